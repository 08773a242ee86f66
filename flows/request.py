"""One run request: what a run is asked to do, checked once before anything starts, then
handed whole to the engine.

:class:`RunOptions` declares a run's options once. They are the Prefect flow's parameters
(``flow.scenario_run`` writes them out in its signature, because Prefect reads a
deployment's parameter schema off it; ``tests/flows/test_request.py`` holds the two equal)
and what the flags of ``resonance run`` map onto, by name (:meth:`RunOptions.from_args`).

:meth:`RunRequest.of` turns options into a :class:`RunRequest`, checking each input once:
the config is parsed (with ``--until-se``, taken at the size its store has already grown
to), the cluster spec loaded, the store's use decided (``store_state.check``: "new",
"resume" or "extend"), a scheduler probed, and a growing run's largest size fixed
(``converge.check``). A mistake is one :class:`~resonance.flows.errors.ResonanceError`
line. The request is frozen: ``startup.launch``, ``execute.run`` and the flow's tasks take
it whole, and a run started ahead is joined by an equal request (``startup.Launched``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .config import RunConfig, config_from_mapping, load_config
from .engine.cluster import ClusterSpec, check_scheduler, load_cluster, scheduler_address
from .errors import ResonanceError, config_error_from
from .files import yaml_mapping


class RunOptions(BaseModel):
    """A run's options, as the Prefect flow takes them (its parameters but
    ``show_summary``) and as ``resonance run``'s flags give them."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    config_path: str = "configs/default.yaml"  # the run config (YAML)
    # The config's YAML text (``resonance submit``), read as if it were ``config_path``:
    # that file's folder resolves what the text names (paths/, costs, clusters/, a
    # posterior) and its name names the config; the file itself need not exist.
    config_text: str | None = None
    out: str | None = None  # the store's location, over the config's ``store``
    overrides: dict[str, Any] = Field(default_factory=dict)  # dotted config keys -> values
    workers: int | None = Field(default=None, ge=1)  # Dask workers (None: the cluster's)
    scheduler: str | None = None  # an existing Dask scheduler's address
    cluster: str | None = None  # configs/clusters/NAME.yaml or a file (None: the config's)
    overwrite: bool = False  # replace a resonance store of another config
    progress: bool = False  # a progress bar over chunks
    until_se: float | None = Field(default=None, gt=0)  # grow until every s.e. <= this
    max_scenarios: int | None = Field(default=None, ge=1)  # ... but not past this size

    @field_validator("overrides", mode="before")
    @classmethod
    def _no_overrides(cls, value):
        return {} if value is None else value  # the flow's default

    @field_validator("config_path", mode="before")
    @classmethod
    def _path_text(cls, value):
        return str(value) if isinstance(value, Path) else value

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> RunOptions:
        """The options among ``values`` (named as the fields; other names are left out:
        the flow's ``show_summary``, the command line's ``engine``). ConfigError naming
        the first bad one; ResonanceError for ``max_scenarios`` without ``until_se``."""
        try:
            options = cls.model_validate({k: v for k, v in values.items() if k in cls.model_fields})
        except ValidationError as exc:
            raise config_error_from(exc, "").with_traceback(None) from None
        if options.max_scenarios is not None and options.until_se is None:
            raise ResonanceError("--max-scenarios", "only applies with --until-se")
        return options

    @classmethod
    def from_args(cls, args, overrides: Mapping[str, Any]) -> RunOptions:
        """The options of ``resonance run``'s parsed ``args``: its flags carry the fields'
        names, but for ``config`` (``config_path``), ``--no-progress`` (``progress``) and
        the config's overrides (``overrides``, the flags' dotted keys; unset ones left out)."""
        given = {key: value for key, value in overrides.items() if value is not None}
        given.pop("store", None)  # --out is the option out
        return cls.of(
            {
                **vars(args),
                "config_path": args.config,
                "progress": not args.no_progress,
                "overrides": given,
            }
        )

    def parameters(self) -> dict[str, Any]:
        """The options as the Prefect flow's keyword arguments (JSON values)."""
        return self.model_dump()

    def config(self) -> RunConfig:
        """The run's config: ``config_text`` (if given) or the file ``config_path``, with
        ``config_overrides``, validated (ConfigError naming the first bad key)."""
        if self.config_text is None:
            return load_config(self.config_path, self.config_overrides)
        raw = yaml_mapping(self.config_text, "config_text")
        return config_from_mapping(
            raw, self.config_text, Path(self.config_path), self.config_overrides
        )

    @property
    def config_overrides(self) -> dict[str, Any]:
        """``overrides`` with ``out`` as the config's ``store``."""
        return {**self.overrides, **({"store": self.out} if self.out else {})}

    @property
    def grows(self) -> bool:
        """Whether the run grows its store until converged (``--until-se``)."""
        return self.until_se is not None


@dataclasses.dataclass(frozen=True, eq=False)
class RunRequest:
    """A checked run: its options, their config, cluster and store. Build it with
    :meth:`of`. Two requests are equal when their options, config (its digest), cluster,
    store use and cap are: equal requests ask for the same run."""

    options: RunOptions
    config: RunConfig  # parsed once; with until_se, at the size its store has reached
    cluster: ClusterSpec
    store: str  # what the run does with config.store: "new", "resume" or "extend"
    cap: int | None = None  # with until_se: the most scenarios the store may grow to

    # Root attributes the run records on its store when it writes chunks (the Prefect
    # flow run it runs in: ``flow.flow_run_record``); not part of what the run is.
    record: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, options: RunOptions, catalog: str | None = None) -> RunRequest:
        """Check everything a run of ``options`` needs before any work starts, each once;
        writes nothing (the store's check only probes that its directory takes a file).
        ``catalog``: a results root; a run without ``out`` then writes the store named by
        its config's identity there (``confine.catalog_store``), not the config's ``store``.
        Raises ResonanceError naming the first problem."""
        from .engine import converge
        from .engine.store_state import check

        config = options.config()
        if catalog is not None and not options.out:
            from .confine import catalog_store

            # The store is part of the config's digest: validated once more with it.
            store = catalog_store(catalog, options.config_path, config.identity)
            config = config.with_overrides({"store": store})
        if options.grows:  # a repeated or retried growing run goes on from its store's size
            config = converge.resume_size(config)
        clusters = Path(options.config_path).parent / "clusters"
        spec = load_cluster(options.cluster or config.cluster, clusters)
        store = check(config, config.store, options.overwrite)
        address = scheduler_address(spec, options.scheduler)
        if address:
            check_scheduler(address)
        cap = converge.check(config, options.max_scenarios) if options.grows else None
        return cls(options, config, spec, store, cap)

    def __eq__(self, other) -> bool:
        if not isinstance(other, RunRequest):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # options hold a dict of overrides

    def _key(self) -> tuple:
        return (self.options, self.config.sha256, self.cluster, self.store, self.cap)

    def again(self, overwrite: bool) -> RunRequest:
        """This request for another try of its run (a Prefect retry), with ``overwrite``:
        an earlier try may have made or grown the store, so its use is decided anew."""
        from .engine import converge
        from .engine.store_state import check

        config = converge.resume_size(self.config) if self.options.grows else self.config
        options = self.options.model_copy(update={"overwrite": overwrite})
        store = check(config, config.store, overwrite)
        return dataclasses.replace(self, options=options, config=config, store=store)
