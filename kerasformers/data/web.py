"""bert4keras's ``WebServing``: expose Python functions as HTTP endpoints, on FastAPI + uvicorn.

    web = WebServing(port=8864)
    web.route("/gen_synonyms", gen_synonyms, {"text": (None, True), "n": (int, False)})
    web.start()   # http://127.0.0.1:8864/gen_synonyms?text=你好

``arguments`` maps each parameter to ``(converter or None, required)``. Every answer is
``{"code": 0|1|2, "desc": ..., "data": func(**kwargs)}``: 1 for a missing argument, 2 when the
function raised (its message in ``desc``), as in bert4keras. For production serving use
``kerasformers serve``.
"""

import json
from urllib.parse import parse_qsl


class WebServing:
    def __init__(self, host="0.0.0.0", port=8000, server=None):
        from fastapi import FastAPI

        self.host = host
        self.port = port
        self.server = server  # bert4keras's bottle server name; uvicorn serves here
        self.app = FastAPI()

    def wraps(self, func, arguments, method="GET"):
        from fastapi import Request, Response

        async def endpoint(request: Request):
            if method == "GET":
                values = dict(request.query_params)
            else:  # an urlencoded form body, parsed here so no multipart library is needed
                values = dict(parse_qsl((await request.body()).decode("utf-8")))
            outputs = {"code": 0, "desc": "succeeded", "data": {}}
            kwargs = {}
            for key, (convert, required) in arguments.items():
                value = values.get(key)
                if value is None:
                    if required:
                        outputs.update(code=1, desc=f'lack of "{key}" argument')
                        return Response(
                            json.dumps(outputs, ensure_ascii=False), media_type="application/json"
                        )
                    continue
                try:
                    kwargs[key] = convert(value) if convert is not None else value
                except Exception as error:  # noqa: BLE001  (any converter error is the caller's: code 2)
                    outputs.update(code=2, desc=f"argument {key!r}: {error}")
                    return Response(json.dumps(outputs, ensure_ascii=False), media_type="application/json")
            try:
                outputs["data"] = func(**kwargs)
            except Exception as error:  # noqa: BLE001  (bert4keras's contract: report any failure as code 2)
                outputs.update(code=2, desc=str(error))
            return Response(json.dumps(outputs, ensure_ascii=False), media_type="application/json")

        return endpoint

    def route(self, path, func, arguments, method="GET"):
        self.app.add_api_route(path, self.wraps(func, arguments, method), methods=[method])

    def start(self):
        import uvicorn

        uvicorn.run(self.app, host=self.host, port=self.port)
