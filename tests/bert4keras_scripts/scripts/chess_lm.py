# A game-record language model in the style of bert4keras's Chinese-chess example: a BERT with
# application='lm' trained on move records, then AutoRegressiveDecoder.random_sample continues
# openings and the moves are checked for legality. The game here is tic-tac-toe (cells 1-9, X and
# O alternate, [SEP] ends the record once a line is made or the board is full), so legality is
# easy to check. Metric: the fraction of sampled moves that are legal (up to a game's first illegal
# one; [SEP] is the one legal move once the game is over), and the fraction of continuations that
# are legal games to the end; the random-move levels (uniform over the nine cells and [SEP]) beside.
import json
import os

import numpy as np
from bert4keras.backend import K, keras
from bert4keras.layers import Loss
from bert4keras.models import build_transformer_model
from bert4keras.optimizers import Adam
from bert4keras.snippets import AutoRegressiveDecoder, DataGenerator, sequence_padding
from bert4keras.tokenizers import Tokenizer

np.random.seed(3)
keras.utils.set_random_seed(3)
data_dir = os.environ["B4K_DATA"]
config_path = os.path.join(data_dir, "bert_config.json")
dict_path = os.path.join(data_dir, "vocab.txt")
quick = os.environ.get("B4K_QUICK") == "1"  # `make test`: fewer games, fixed shapes
batch_size, epochs, steps = (32, 6, 100) if quick else (32, 8, 150)
maxlen = 11  # [CLS], at most nine moves, [SEP]: one padded length
LINES = [(1, 2, 3), (4, 5, 6), (7, 8, 9), (1, 4, 7), (2, 5, 8), (3, 6, 9), (1, 5, 9), (3, 5, 7)]


def game_over(moves):
    """A line made by the player who moved last, or a full board."""
    mine = set(moves[len(moves) - 1 :: -2])
    return any(set(line) <= mine for line in LINES) or len(moves) == 9


def random_game():
    moves = []
    while not moves or not game_over(moves):
        moves.append(int(np.random.choice([c for c in range(1, 10) if c not in moves])))
    return moves


def judge(opening, continuation):
    """(legal moves, judged moves, legal game): moves are judged up to the first illegal one."""
    moves, legal = list(opening), 0
    for move in continuation:
        if game_over(moves):
            ok = move == "end"
        else:
            ok = move in range(1, 10) and move not in moves
        if not ok:
            return legal, legal + 1, False
        legal += 1
        if move == "end":
            return legal, legal, True
        moves.append(move)
    return legal, legal, False  # ran out of steps without [SEP]


train_data = [" ".join(map(str, random_game())) for _ in range(batch_size * steps)]
tokenizer = Tokenizer(dict_path, do_lower_case=True)
cells = {tokenizer.token_to_id(str(c)): c for c in range(1, 10)}


class data_generator(DataGenerator):
    def __iter__(self, random=False):
        batch_token_ids = []
        for is_end, text in self.sample(random):
            batch_token_ids.append(tokenizer.encode(text)[0])
            if len(batch_token_ids) == self.batch_size or is_end:
                yield [sequence_padding(batch_token_ids, maxlen)], None
                batch_token_ids = []


class CrossEntropy(Loss):
    def compute_loss(self, inputs, mask=None):
        y_true, y_pred = inputs
        y_mask = K.cast(K.not_equal(y_true[:, 1:], 0), K.floatx())
        loss = K.sparse_categorical_crossentropy(y_true[:, 1:], y_pred[:, :-1])
        return K.sum(loss * y_mask) / K.sum(y_mask)


model = build_transformer_model(config_path, application="lm", segment_vocab_size=0)
output = CrossEntropy(1)([model.inputs[0], model.outputs[0]])
model = keras.models.Model(model.inputs, output)
model.compile(optimizer=Adam(3e-3))


class GamePlayer(AutoRegressiveDecoder):
    @AutoRegressiveDecoder.wraps(default_rtype="probas")
    def predict(self, inputs, output_ids, states):
        token_ids = np.concatenate([inputs[0], output_ids], 1)
        return self.last_token(model).predict(token_ids, verbose=0)

    def play(self, opening):
        token_ids = tokenizer.encode(" ".join(map(str, opening)))[0][:-1]
        output_ids = self.random_sample([token_ids], n=1, topk=3)[0]
        return [cells.get(i, "end" if i == tokenizer._token_end_id else "other") for i in output_ids]


player = GamePlayer(start_id=None, end_id=tokenizer._token_end_id, maxlen=8)

if __name__ == "__main__":
    train_generator = data_generator(train_data, batch_size)
    model.fit(train_generator.forfit(), steps_per_epoch=len(train_generator), epochs=epochs, verbose=0)
    openings = [random_game()[:2] for _ in range(40 if quick else 100)]
    games, legal, judged = 0, 0, 0
    random_games, random_legal, random_judged = 0, 0, 0
    for opening in openings:
        a, b, ok = judge(opening, player.play(opening))
        legal, judged, games = legal + a, judged + b, games + ok
        for _ in range(10):  # a player choosing uniformly among the nine cells and [SEP]
            moves = [int(m) if m < 10 else "end" for m in np.random.randint(1, 11, size=8)]
            a, b, ok = judge(opening, moves)
            random_legal, random_judged, random_games = random_legal + a, random_judged + b, random_games + ok
    print(
        json.dumps(
            {
                "metric": "legal_move_rate",
                "value": legal / judged,
                "legal_game_rate": games / len(openings),
                "random_legal_game_rate": random_games / (10 * len(openings)),
                "random_legal_move_rate": random_legal / random_judged,
                "n": len(openings),
            }
        )
    )
