"""The 2D training recipe: one set of defaults for the library, the CLI and the desktop app.

Plain numbers (no torch, no Qt) so that the app's state can read them without importing torch.
Chosen with ``bench/cli_recipe.py`` (figures in ``bench/results/cli_recipe-*.json``): with these,
``flowscope train --data checkerboard`` (STEPS_2D steps) gives sharp squares in about a minute of
one CPU core.
"""

#: MLP hidden units and hidden layers of a 2D model
WIDTH_2D = 128
DEPTH_2D = 3
#: points per optimizer step, Adam learning rate
BATCH_2D = 512
LR_2D = 1e-2
#: linear learning-rate warm-up from ~0 to LR_2D over these steps (then cosine decay to 0 when
#: the number of steps is known, constant while the app trains until stopped)
WARMUP_2D = 300
#: EMA decay of the weights that snapshots and saved models use (None: the raw weights)
EMA_2D: float | None = 0.995
#: steps of `flowscope train` on 2D data
STEPS_2D = 12000
