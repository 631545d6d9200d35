"""The model, in scvi-tools' shape: `_module` the network and its loss terms (a dict), `_zinb`
the likelihood, `_trainer` the training plan (the two-phase loop, early stopping), `_data` and
`_device` what it trains on and where, `_model` the user-facing `FactVAE` class and `train`
(its results and checkpoints as mixins in `_results` and `_checkpoint`)."""

from .._lazy import lazy_names, table

_WHERE = table(
    _model="FactVAE train resolve_precision resolve_spatial training_data CHECKPOINT_FORMAT EpochBar",
    _module="FactVAEModule",
    _trainer="Trainer TrainingDiverged StoppingRule Progress validation_rows",
    _device="available_cpus pick_device",
)
__all__ = ["FactVAE", "train"]
__getattr__, __dir__ = lazy_names(__name__, _WHERE)
