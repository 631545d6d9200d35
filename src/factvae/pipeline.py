"""The steps every front end runs, in one place: the CLI (`factvae run/train`) and the napari
Train widget call these and repeat none of them::

    events = pipeline.train(mdata, params, epochs=300, cancel=flag.is_set)
    mdata, model = yield from events   # ('stage', text), ('prepared', mdata), ('model', model),
                                       # ('progress', Progress) events; results not yet stored
    model.apply_results(model.compute_results())   # (a GUI: computed in its worker, stored
    find_domains(mdata, ...)                       #  on its main thread)
"""

from __future__ import annotations

import time
from typing import Callable, Iterator

from .errors import FactVAEInputError
from .keys import PREPROCESS_KEY, PRIOR_PAIRS_KEY


# settings of a training run that a resumed model takes from the caller, not from its file
RESUME_OPTIONS = ("early_stopping", "patience", "precision")


def prepare(mdata, *, seed: int = 0, alpha: float = 1.0, genes=None, promoter: int = 2000,
            on_stage: Callable[[str], None] | None = None, copy: bool = False):
    """Make a MuData ready to train: preprocess it and build the gene-peak prior, if needed.

    Preprocess (unless done; with the training seed) and build the gene-peak prior (when
    absent and `alpha` > 0, or whenever `genes` is given). The prior is required while its
    weight `alpha` is above 0: a missing gene annotation is then one clear error whose fix
    names both ways out. Returns the (possibly new, filtered) MuData. `copy`: when anything is
    to be done, work on a copy, so the given MuData is never written to (a GUI prepares in a
    worker while the viewer shows the original).

    Preprocessing is done unless `mdata.uns['factvae_preprocess']` is present; the prior is
    built when `mdata.uns['factvae_g2p']` is absent (and `alpha` > 0) or `genes` is given.

    Parameters
    ----------
    mdata : MuData
        As `load_paired` gives it, or already prepared.
    seed : int, default 0
        The training seed, used by preprocessing.
    alpha : float, default 1.0
        The prior's weight; 0: no prior is needed.
    genes : str or Path, optional
        A GTF, GFF3 or BED of gene coordinates; default: the columns of `rna.var`.
    promoter : int, default 2000
        Bases upstream of the TSS added to each gene body in the prior.
    on_stage : callable, optional
        `on_stage(text)` before each step ('preprocessing', 'building the gene-peak prior').
    copy : bool, default False
        Work on a copy when anything is to be done.

    Returns
    -------
    MuData
        The prepared data (see `factvae.pp.preprocess` and `factvae.pp.add_gene_peak_prior`
        for the keys they set).

    Raises
    ------
    FactVAEInputError
        If preprocessing or the prior fails; without `genes`, a missing annotation's fix also
        offers training without the prior (alpha 0).
    """
    from .pp._preprocess import preprocess
    from .pp._prior import add_gene_peak_prior

    stage = on_stage or (lambda text: None)
    needs_prior = genes is not None or (alpha and PRIOR_PAIRS_KEY not in mdata.uns)
    if copy and (PREPROCESS_KEY not in mdata.uns or needs_prior):
        from .io._images import copy_sharing_images

        mdata = copy_sharing_images(mdata)
    if PREPROCESS_KEY not in mdata.uns:
        stage("preprocessing")
        mdata = preprocess(mdata, seed=seed)
    if needs_prior:
        stage("building the gene-peak prior")
        try:
            add_gene_peak_prior(mdata, genes, promoter=promoter)
        except FactVAEInputError as err:
            if genes is not None:
                raise
            raise FactVAEInputError(
                err.problem, file=err.file, field=err.field,
                fix=f"{err.fix.rstrip('.') if err.fix else 'give a gene annotation'}; or train "
                    "without the prior (alpha 0).") from None
    return mdata


def default_threads(*, leave_one: bool = False) -> int:
    """CPU threads for training.

    The CPUs this process may use, one fewer in a GUI so that the viewer stays responsive.

    Parameters
    ----------
    leave_one : bool, default False
        Leave one CPU free (a GUI).

    Returns
    -------
    int
        At least 1.
    """
    from .model._device import available_cpus

    n = available_cpus()
    return max(1, n - 1) if leave_one else n


def preview_domains(model, *, n_domains=None, method: str = "leiden", **domain_params):
    """A preview of the domains during training, from the model's current codes.

    Domains from the model's current codes (the joint code as `compute_results` makes it),
    with `factvae.tl.cluster`; nothing is stored and training is not touched (no random numbers
    drawn, the module back in training mode at the next step). Returns (labels, record, seconds).

    Parameters
    ----------
    model : FactVAE
        The model being trained; spot coordinates from its MuData's `obsm['spatial']`.
    n_domains : int or 'auto', optional
        Default, with Leiden: 'auto' (a preview has no resolution to go by: the suggested
        number).
    method : str, default 'leiden'
        'leiden', 'kmeans' or 'gmm'.
    **domain_params
        Other arguments of `factvae.tl.cluster` (the seed is the model's).

    Returns
    -------
    labels : numpy.ndarray
        One domain per spot, numbered by size.
    record : dict
        The parameters record of `cluster`.
    seconds : float
        What the preview took.

    Raises
    ------
    FactVAEInputError
        If `cluster` refuses its arguments (e.g. the codes hold NaN).
    """
    import numpy as np

    from .tl._cluster import cluster

    t0 = time.perf_counter()
    X = np.concatenate([model._codes("atac")[0], model._codes("rna")[0]], axis=1)
    coords = np.asarray(model.mdata.obsm["spatial"]) if "spatial" in model.mdata.obsm else None
    if n_domains is None and method == "leiden":
        n_domains = "auto"  # a preview has no resolution to go by: the suggested number
    labels, record = cluster(X, method=method, n_domains=n_domains, coords=coords,
                             seed=model.config.seed, **domain_params)
    return labels, record, time.perf_counter() - t0


def estimate_line(progress, model) -> str:
    """One line on what the run will cost, from its first mini-batches.

    Seconds per epoch, the most it takes (every epoch asked for) and, with early stopping,
    that it usually stops sooner.

    Parameters
    ----------
    progress : Progress
        A training event (its elapsed time and how far the run is).
    model : FactVAE or None
        The model, for its early-stopping settings; None leaves them out.

    Returns
    -------
    str
        One line, e.g. 'about 1.2 s per epoch: at most 6 min for the 300 epochs to go; early
        stopping watches ... held-out spots and stops once their ELBO is flat for 10 epochs'.
    """
    per_epoch = progress.elapsed / max(progress.fraction * progress.n_epochs, 1e-9)
    left = progress.n_epochs - progress.epoch + 1
    most = per_epoch * left
    text = (f"about {per_epoch:.1f} s per epoch: at most {_duration(most)} for the {left} "
            f"epoch{'s' if left != 1 else ''} to go")
    if model is not None and model.trainer.validation is not None:
        text += (f"; early stopping watches {len(model.trainer.validation)} held-out spots and "
                 f"stops once their ELBO is flat for {model.config.patience} epochs")
    return text


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def describe_preview(preview: dict, previous: dict | None) -> str:
    """One log line for a domain preview.

    The number, the sizes, how far they moved since the previous preview (ARI between the
    two), and what it cost.

    Parameters
    ----------
    preview : dict
        A 'preview' event of `train`: 'epoch', 'labels', 'record', 'seconds'.
    previous : dict or None
        The preview before it, or None for the first.

    Returns
    -------
    str
        E.g. 'epoch 20: 3 domains (sizes 300, 250, 120), ARI 0.85 with epoch 10's (0.4 s)'
        (at most 8 sizes, then '...').
    """
    import numpy as np
    from sklearn.metrics import adjusted_rand_score

    sizes = np.bincount(preview["labels"])
    text = (f"epoch {preview['epoch']}: {len(sizes)} domains (sizes "
            f"{', '.join(map(str, sizes[:8]))}{', ...' if len(sizes) > 8 else ''})")
    if previous is not None:
        text += (f", ARI {adjusted_rand_score(previous['labels'], preview['labels']):.2f} with "
                 f"epoch {previous['epoch']}'s")
    return text + f" ({preview['seconds']:.1f} s)"


def train(mdata, params: dict | None = None, *, epochs: int | None = None, device: str = "auto",
          n_threads: int | None = None, resume=None, model=None, genes=None,
          promoter: int = 2000, cancel: Callable[[], bool] | None = None,
          min_interval: float = 0.0, progress_interval: float | None = None,
          copy: bool = False, preview_every: int = 0, preview: dict | None = None
          ) -> Iterator[tuple]:
    """Prepare and train, as a generator of events: what `factvae run` and the widget run.

    Prepare (preprocess + prior, with the training seed) and train: the generator behind
    `factvae run` and the Train widget. Yields ('stage', text), ('prepared', mdata),
    ('model', model) (keep it: a stop never loses it) and ('progress', Progress) events (at
    most every `min_interval` s, and at every epoch end; within an epoch the model reports every
    `progress_interval` s, see `FactVAE.train_iter`); returns (mdata, model), the MuData
    the model was trained on (a new object when preprocessing filtered). `resume`: a model
    file to continue (its own parameters; `epochs` is the total); `model`: a model in memory
    to continue when it belongs to the prepared MuData. Results are not stored: call
    `model.write_results()` (or compute and apply them apart). Closing the generator mid-epoch
    sets the model back to its last finished epoch. `copy`: see `prepare`. `preview_every`: every
    that many epochs (and at the last one), also ('preview', {'epoch', 'labels', 'record',
    'seconds'}) with domains of the current codes (`preview_domains` with `preview` as its
    domain parameters); the labels follow the prepared MuData's spots.

    Use it as `mdata, model = yield from train(...)`, or run it with `drive`.

    Parameters
    ----------
    mdata : MuData
        The data, as `load_paired` gives it or already prepared.
    params : dict, optional
        Fields of `FactVAEConfig` for a new model ('seed' and 'alpha' also steer `prepare`);
        with `resume`, only the run's own settings ('early_stopping', 'patience',
        'precision') are taken from it.
    epochs : int, optional
        The total number of epochs; default: the model's `epochs`.
    device : str, default 'auto'
        As for `FactVAE`.
    n_threads : int, optional
        As for `FactVAE`.
    resume : str or Path, optional
        A model file (`FactVAE.save`) to continue.
    model : FactVAE, optional
        A model in memory to continue, used when it belongs to the prepared MuData.
    genes : str or Path, optional
        A gene annotation for the prior (see `prepare`).
    promoter : int, default 2000
        Bases upstream of the TSS in the prior.
    cancel : callable, optional
        `cancel() -> bool`, checked before each mini-batch: training stops at the last
        finished epoch.
    min_interval : float, default 0.0
        Seconds between the 'progress' events passed on within an epoch.
    progress_interval : float, optional
        Seconds between the model's reports within an epoch; default: `FactVAE.train_iter`'s.
    copy : bool, default False
        See `prepare`.
    preview_every : int, default 0
        Epochs between domain previews (0: none).
    preview : dict, optional
        Domain parameters of the previews (`preview_domains`).

    Yields
    ------
    tuple
        (kind, value): ('stage', text), ('prepared', mdata), ('model', model),
        ('progress', Progress) and, with `preview_every`, ('preview', dict).

    Returns
    -------
    tuple
        (mdata, model), the generator's return value.

    Raises
    ------
    FactVAEInputError
        If preparing fails, the model file cannot be loaded, the resumed model has trained
        more epochs than `epochs`, the parameters are refused, or training diverges
        (`TrainingDiverged`).
    """
    from .model._model import FactVAE

    params = dict(params or {})
    given, seed, alpha = mdata, params.get("seed", 0), params.get("alpha", 1.0)
    if PREPROCESS_KEY not in mdata.uns:  # each step announced as it starts (the GUI shows it)
        yield ("stage", "preprocessing")
        mdata = prepare(mdata, seed=seed, alpha=0, copy=copy)
    if genes is not None or (alpha and PRIOR_PAIRS_KEY not in mdata.uns):
        yield ("stage", "building the gene-peak prior")
        mdata = prepare(mdata, seed=seed, alpha=alpha, genes=genes, promoter=promoter,
                        copy=copy and mdata is given)
    yield ("prepared", mdata)
    if resume is not None:
        run_level = {k: params[k] for k in RESUME_OPTIONS if k in params}  # the run's own
        model = FactVAE.load(resume, mdata, device=device, n_threads=n_threads, **run_level,
                             **({} if epochs is None else {"epochs": epochs}))
        if epochs is not None and model.epochs_done > epochs:
            raise FactVAEInputError(f"the model has trained {model.epochs_done} epochs already, "
                                    f"more than the {epochs} asked for.", file=str(resume),
                                    field="epochs", fix=f"ask for {model.epochs_done} or more "
                                    "(the total, not the number to add).")
    elif model is None or model.mdata is not mdata:
        model = FactVAE(mdata, device=device, n_threads=n_threads,
                        **({**params, "epochs": epochs} if epochs is not None else params))
    yield ("model", model)
    last = 0.0
    # always a cancel flag: the last finished epoch is then kept (a copy per epoch), which is
    # what a stop, a divergence or closing this generator go back to
    events = model.train_iter(epochs, cancel=cancel or (lambda: False), **(
        {} if progress_interval is None else {"progress_interval": progress_interval}))
    try:
        for p in events:
            now = time.perf_counter()
            if p.epoch_done or now - last >= min_interval:
                last = now
                yield ("progress", p)
            if preview_every and p.epoch_done and (
                    p.epoch % preview_every == 0 or p.stopped_early or p.epoch == p.n_epochs):
                labels, record, seconds = preview_domains(model, **(preview or {}))
                yield ("preview", {"epoch": p.epoch, "labels": labels, "record": record,
                                   "seconds": seconds})
    finally:  # closed from outside (a worker quit): the model goes back to its last epoch now
        events.close()
    return mdata, model


def run(mdata=None, params: dict | None = None, *, rna=None, atac=None, epochs: int | None = None,
        device: str = "auto", n_threads: int | None = None, genes=None, n_domains=None,
        domain_params: dict | None = None, callback: Callable | None = None,
        cancel: Callable[[], bool] | None = None):
    """The whole job in one call, for scripts and cluster nodes.

    Load (`mdata` a MuData or a
    path to a .h5mu, or `rna`/`atac` .h5ad paths) -> preprocess -> prior -> train -> store the
    results -> domains (`n_domains`, with `domain_params` for `find_domains`). `callback(kind,
    value)` gets every event of `train` ('stage', 'prepared', 'model', 'progress'), `cancel()`
    stops training after the mini-batch (the model keeps its last finished epoch and the job
    goes on with it). Returns (mdata, model, domain parameters record).

    Parameters
    ----------
    mdata : MuData or str or Path, optional
        A MuData, or the path of an .h5mu; None with `rna` and `atac`.
    params : dict, optional
        Fields of `FactVAEConfig`.
    rna, atac : str or Path, optional
        .h5ad files, instead of `mdata`.
    epochs : int, optional
        Epochs to train; default: `params['epochs']`, else `FactVAEConfig.epochs` (300).
    device : str, default 'auto'
        As for `FactVAE`.
    n_threads : int, optional
        As for `FactVAE`.
    genes : str or Path, optional
        A gene annotation for the prior; default: the columns of `rna.var`.
    n_domains : int or 'auto', optional
        The number of domains (see `find_domains`).
    domain_params : dict, optional
        Other arguments of `find_domains`.
    callback : callable, optional
        `callback(kind, value)` for every event of `train`.
    cancel : callable, optional
        `cancel() -> bool`, checked before each mini-batch.

    Returns
    -------
    mdata : MuData
        The data with its results (a new object when preprocessing filtered).
    model : FactVAE
        The trained model.
    record : dict
        The parameters record of `find_domains`.

    Raises
    ------
    FactVAEInputError
        For anything `load_paired`, `train` or `find_domains` refuse.

    Notes
    -----
    Sets the keys of `factvae.pp.preprocess`, `factvae.pp.add_gene_peak_prior`,
    `FactVAE.write_results` and `find_domains` (`mdata.obs['factvae_domain']`,
    `mdata.uns['factvae_domain_colors']`, `mdata.uns['factvae_domain']['params']`, unless
    `domain_params` names another `key_added`).
    """
    from .tl._domains import find_domains
    from .io._load import load_paired

    if mdata is None or isinstance(mdata, (str, bytes)) or hasattr(mdata, "__fspath__"):
        mdata = load_paired(mdata, rna=rna, atac=atac)
    events = train(mdata, params, epochs=epochs, device=device, n_threads=n_threads,
                   genes=genes, cancel=cancel)
    mdata, model = drive(events, callback)
    model.write_results()
    record = find_domains(mdata, n_domains=n_domains, **(domain_params or {}))
    return mdata, model, record


def drive(events, on_event: Callable | None = None):
    """Run a `train` generator to its end outside a GUI worker.

    `on_event(kind, value)` for each event; returns what it returns, (mdata, model).

    Parameters
    ----------
    events : generator
        A `train` generator.
    on_event : callable, optional
        `on_event(kind, value)` for each event.

    Returns
    -------
    tuple
        (mdata, model), the generator's return value.

    Raises
    ------
    FactVAEInputError
        Whatever the generator raises.
    """
    while True:
        try:
            kind, value = next(events)
        except StopIteration as finished:
            return finished.value
        if on_event is not None:
            on_event(kind, value)
