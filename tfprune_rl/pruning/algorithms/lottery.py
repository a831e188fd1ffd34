"""`lottery`: the lottery ticket (Frankle & Carbin 2019), the paper's baseline. The masks are a
finished run's final ones (`--mask_from=RUN_DIR`); the trainer builds the networks with that
run's seed, so the weights start at its initialization; the masks then stay fixed."""

from tfprune_rl.pruning.updater import Updater


class Lottery(Updater):
    def initial_masks(self, kernels, loss, batches, source_masks):
        return source_masks
