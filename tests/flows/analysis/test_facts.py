"""The stylized facts: each estimator on data of known answer, and the command end to end."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from resonance.flows.analysis import facts as stylized
from resonance.flows.analysis import panel_facts
from resonance.flows.cli import main
from tests.helpers import DEFAULT_CONFIG, tiny_run, write_config


def test_hill_exponent_recovers_a_pareto_tail():
    gen = np.random.default_rng(1)
    for alpha in (0.9, 1.06, 1.5):
        sizes = gen.pareto(alpha, size=(20, 20_000)) + 1.0
        got = stylized.hill_exponent(sizes / sizes.sum(axis=-1, keepdims=True))
        assert np.median(got) == pytest.approx(alpha, rel=0.05)


def test_growth_kurtosis_of_laplace_and_normal_growth():
    gen = np.random.default_rng(2)
    shape = (4, 1, 11, 4000)
    for draw, expected in ((gen.laplace, 3.0), (gen.normal, 0.0)):
        log_share = np.cumsum(draw(size=shape) * 0.1, axis=2)
        pooled, by_year = stylized.growth_kurtosis(log_share, np.zeros(shape))
        assert np.median(pooled) == pytest.approx(expected, abs=0.3)
        assert by_year.shape == (4, 1, 10)


def test_persistence_of_a_level_with_transitory_noise():
    # corr(A + e_t, A + e_t+1) = var A / (var A + var e) = 0.8 for var e = var A / 4
    gen = np.random.default_rng(3)
    level = gen.normal(size=(3, 1, 1, 20_000))
    noisy = level + 0.5 * gen.normal(size=(3, 1, 6, 20_000))
    got = stylized.persistence(noisy, np.zeros(noisy.shape))
    np.testing.assert_allclose(got, 0.8, atol=0.01)
    # an entrant (a new owner of the slot from year 3 on) is left out of the pair it starts
    entered = np.zeros(noisy.shape)
    entered[..., 3, :10_000] = 1
    swapped = noisy.copy()
    new_level = 3.0 * gen.normal(size=(3, 1, 1, 10_000))
    swapped[..., 3:, :10_000] = new_level + 1.5 * gen.normal(size=(3, 1, 3, 10_000))
    kept = stylized.persistence(swapped, entered)
    np.testing.assert_allclose(kept, 0.8, atol=0.02)  # entrants then persist as founders
    assert (stylized.persistence(swapped, np.zeros(noisy.shape)) < kept - 0.05).all()


def test_incumbent_growth_weighs_continuing_firms_by_their_start_of_year_share():
    """Two firms: the big one (share 0.75) gains 0.02 log TFP a year, the small one 0.06:
    incumbents grow 0.75 * 2 + 0.25 * 6 = 3 %/yr. The weights are the shares at the start
    of each year (with shares that swap every year, end-of-year weights would give 13/3
    %/yr, not 11/3). An entrant's
    jump into a slot (from the exiting firm's log TFP to its own) is not an incumbent's
    growth."""
    log_tfp = np.array([[0.0, 0.02, 0.04, 0.06], [0.0, 0.06, 0.12, 0.18]]).T[None, None]
    share = np.broadcast_to(np.array([0.75, 0.25]), log_tfp.shape).copy()
    entered = np.zeros(log_tfp.shape)
    assert stylized.incumbent_growth(log_tfp, share, entered)[0, 0] == pytest.approx(3.0)
    alternating = share.copy()
    alternating[0, 0, 1::2] = [0.25, 0.75]  # years 1 and 3: the small firm is the big one
    # pairs (0, 1) and (2, 3) start at 0.75 / 0.25, the pair (1, 2) at 0.25 / 0.75
    expected = (3.0 + 0.25 * 2 + 0.75 * 6 + 3.0) / 3
    got = stylized.incumbent_growth(log_tfp, alternating, entered)[0, 0]
    assert got == pytest.approx(expected)
    jumped = log_tfp.copy()
    jumped[0, 0, 2:, 1] += 1.0  # a new owner of the small firm's slot in year 2
    entered[0, 0, 2, 1] = 1
    # year pair (1, 2): the big firm alone (2 %/yr); the others as before
    expected = (3.0 + 2.0 + 3.0) / 3
    assert stylized.incumbent_growth(jumped, share, entered)[0, 0] == pytest.approx(expected)


def test_innovation_skew_counts_the_top_tenth_of_breakthroughs():
    value = np.zeros((1, 1, 2, 50))
    value[0, 0, 0, :10] = 1.0  # ten breakthroughs of value 1 ...
    value[0, 0, 1, 0] = 9.0  # ... and one of value 9: the top tenth (one) holds 9 / 19
    assert stylized.innovation_skew(value)[0, 0] == pytest.approx(9 / 19)
    assert np.isnan(stylized.innovation_skew(np.zeros((1, 1, 2, 50))))[0, 0]


def _ages(entered: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    """Ages (years at each year's end) of the occupants of (s, p, y, i) slots: founders
    start at U(0.5, 10), an entrant is U(0, 1) old at its entry year's snapshot, and every
    occupant ages a year a year (as the kernel's ``age`` snapshot)."""
    age = np.empty(entered.shape)
    age[:, :, 0] = gen.uniform(0.5, 10.0, size=entered[:, :, 0].shape)
    for y in range(1, entered.shape[2]):
        fresh = gen.uniform(0.0, 1.0, size=entered[:, :, y].shape)
        age[:, :, y] = np.where(entered[:, :, y] == 1, fresh, age[:, :, y - 1] + 1.0)
    return age


def _gibrat_panel(beta: float, gen, shape=(3, 1, 10, 3000), entry: float = 0.0):
    """Shares (s, p, y, i) whose annual log growth has sd 0.3 * size^-beta (size: the share
    before the year, relative to the geometric mean), and entered (s, p, y, i): each year
    a fraction ``entry`` of the slots goes to an entrant of a size unrelated to the last."""
    log_size = np.empty(shape)
    entered = np.zeros(shape)
    log_size[:, :, 0] = gen.normal(0.0, 2.0, size=shape[:2] + shape[3:])
    for y in range(1, shape[2]):
        before = log_size[:, :, y - 1]
        relative = before - before.mean(axis=-1, keepdims=True)
        step = 0.3 * np.exp(-beta * relative) * gen.normal(size=before.shape)
        entered[:, :, y] = gen.random(before.shape) < entry
        new = gen.normal(0.0, 2.0, size=before.shape)  # as a founder: unrelated to before
        log_size[:, :, y] = np.where(entered[:, :, y] == 1, new, before + np.clip(step, -3, 3))
    share = np.exp(log_size)
    return share / share.sum(axis=-1, keepdims=True), entered


@pytest.mark.parametrize("beta", [0.0, 0.2, 0.35])
def test_size_variance_recovers_the_exponent_of_sd_on_size(beta):
    share, entered = _gibrat_panel(beta, np.random.default_rng(10))
    got = panel_facts.size_variance(share, entered)
    assert got.shape == (3, 1)
    np.testing.assert_allclose(got, beta, atol=0.03)


def test_size_variance_leaves_out_entrants_and_needs_enough_firms_per_bin():
    gen = np.random.default_rng(11)
    share, entered = _gibrat_panel(0.2, gen, entry=0.05)
    np.testing.assert_allclose(panel_facts.size_variance(share, entered), 0.2, atol=0.03)
    counted = panel_facts.size_variance(share, np.zeros(share.shape))  # entrants as growth
    assert (np.abs(counted - 0.2) > 0.1).all()
    few = panel_facts.MIN_PER_BIN * panel_facts.SIZE_BINS - 1  # one firm-year short
    small, none = _gibrat_panel(0.2, gen, shape=(1, 1, 2, few))
    assert np.isnan(panel_facts.size_variance(small, none)).all()
    flat = np.full((1, 1, 3, 500), 1 / 500)  # no growth at all: no spread to scale
    assert np.isnan(panel_facts.size_variance(flat, np.zeros(flat.shape))).all()


def _exits_by_age(young_hazard, old_hazard, gen, shape=(4, 1, 10, 5000)):
    """entered, age (s, p, y, i): each year the occupant exits with a probability set by
    its age at the year before (<= 2 years: young_hazard, else old_hazard)."""
    entered = np.zeros(shape)
    age = np.empty(shape)
    age[:, :, 0] = gen.uniform(0.5, 10.0, size=shape[:2] + shape[3:])
    for y in range(1, shape[2]):
        hazard = np.where(age[:, :, y - 1] <= 2.0, young_hazard, old_hazard)
        out = gen.random(hazard.shape) < hazard
        entered[:, :, y] = out
        age[:, :, y] = np.where(out, gen.uniform(0.0, 1.0, hazard.shape), age[:, :, y - 1] + 1)
    return entered, age


def test_up_or_out_recovers_the_ratio_of_exit_hazards_by_age():
    entered, age = _exits_by_age(0.20, 0.05, np.random.default_rng(12))
    got = panel_facts.up_or_out(entered, age)
    np.testing.assert_allclose(got, 4.0, rtol=0.08)
    same, age = _exits_by_age(0.08, 0.08, np.random.default_rng(13))
    np.testing.assert_allclose(panel_facts.up_or_out(same, age), 1.0, rtol=0.08)


def test_up_or_out_is_not_measured_without_young_exits_or_without_age():
    entered, age = _exits_by_age(0.0, 0.05, np.random.default_rng(14))
    assert np.isnan(panel_facts.up_or_out(entered, age)).all()  # no young firm exits
    assert np.isnan(panel_facts.up_or_out(np.zeros((2, 1, 4, 50)), np.ones((2, 1, 4, 50)))).all()
    assert np.isnan(panel_facts.up_or_out(entered, None)).all()  # a store without age


def _rd_panel(rho, gen, shape=(3, 1, 10, 1000)):
    """log TFP, R&D intensity, entered (s, p, y, i): Δ log TFP = rho * last year's R&D
    intensity + a year effect (tied to the year's mean intensity, so that leaving out the
    year effects would bias rho) + noise; a slot changing hands draws a new level."""
    s, p, years, firms = shape
    firm_rd = gen.beta(2, 30, size=(s, p, 1, firms))  # persistent, mean ~6 % of revenue
    drift = 0.02 * np.arange(years)[None, None, :, None]  # the industry's R&D rises
    rd = firm_rd + drift + 0.01 * gen.random(shape)
    year_effect = 5.0 * rd.mean(axis=-1, keepdims=True)  # large, correlated with R&D
    noise = 0.05 * gen.normal(size=rd[:, :, 1:].shape)
    change = rho * rd[:, :, :-1] + year_effect[:, :, 1:] + noise
    entered = np.zeros(shape)
    entered[:, :, 1:] = gen.random(change.shape) < 0.05
    change = np.where(entered[:, :, 1:] == 1, gen.normal(0, 3, size=change.shape), change)
    log_tfp = np.concatenate([np.zeros((s, p, 1, firms)), np.cumsum(change, axis=2)], axis=2)
    return log_tfp, rd, entered


@pytest.mark.parametrize("rho", [0.0, 0.2])
def test_rd_return_recovers_the_rate_of_return_with_year_effects(rho):
    log_tfp, rd, entered = _rd_panel(rho, np.random.default_rng(15))
    got, se = panel_facts.rd_return(log_tfp, rd, entered)
    assert got.shape == se.shape == (3, 1)
    np.testing.assert_allclose(got, rho, atol=0.03)
    assert ((se > 0) & (se < 0.05)).all()
    assert (np.abs(got - rho) < 4 * se).all()


def test_rd_return_is_not_measured_without_spread_or_rows():
    log_tfp, rd, entered = _rd_panel(0.2, np.random.default_rng(16))
    flat = np.broadcast_to(rd.mean(axis=-1, keepdims=True), rd.shape)  # one intensity a year
    assert np.isnan(panel_facts.rd_return(log_tfp, flat, entered)[0]).all()
    few = panel_facts.rd_return(log_tfp[..., :3], rd[..., :3], entered[..., :3])
    assert np.isnan(few[0]).all() and np.isnan(few[1]).all()


def test_entrant_size_is_the_ratio_of_median_shares_in_the_entry_year():
    share = np.full((1, 1, 3, 9), 2.0)
    entered = np.zeros(share.shape)
    entered[0, 0, 1, :3] = 1  # year 2: three entrants of shares 0.5, 0.5, 9
    share[0, 0, 1, :3] = [0.5, 0.5, 9.0]
    entered[0, 0, 2, 3:5] = 1  # year 3: two more of 0.5 and 0.1
    share[0, 0, 2, 3:5] = [0.5, 0.1]
    entered[0, 0, 0, 5:] = 1  # entrants of the first year are not counted (years 2..Y)
    share[0, 0, 0, 5:] = 100.0
    # entrants 0.1, 0.5, 0.5, 0.5, 9 (median 0.5); incumbents all 2
    assert panel_facts.entrant_size(share, entered)[0, 0] == pytest.approx(0.25)
    assert np.isnan(panel_facts.entrant_size(share, np.zeros(share.shape))).all()


def _synthetic_snapshots(gen, with_age=True, shape=(3, 1, 10, 3000)) -> xr.Dataset:
    """Every snapshot variable of a known-answer panel (size-variance beta 0.2, no rd
    return, entrants at a third of the incumbents' median share), as a store's Dataset."""
    share, _ = _gibrat_panel(0.2, gen, shape)
    entered, age = _exits_by_age(0.2, 0.05, gen, shape)
    share = np.where(entered == 1, share / 3, share)  # entrants: a third of a founder's share
    log_tfp = np.cumsum(0.01 * gen.normal(size=shape), axis=2)
    data = {
        "log_tfp": log_tfp,
        "market_share": share,
        "rd_intensity": gen.beta(2, 30, size=shape),
        "new_paradigm": np.zeros(shape),
        "entered": entered,
        "breakthrough_value": np.zeros(shape),
    }
    if with_age:
        data["age"] = age
    dims = ("scenario", "path", "year", "firm")
    return xr.Dataset(
        {k: (dims, v.astype(np.float32)) for k, v in data.items()},
        coords={"scenario": np.arange(shape[0]), "path": ["baseline"], "year": np.arange(1, 11)},
    )


def test_scenario_facts_measures_the_panel_facts_and_skips_age_when_a_store_lacks_it():
    gen = np.random.default_rng(17)
    snapshots = _synthetic_snapshots(gen)
    per = stylized.scenario_facts(snapshots)
    assert per.rd_return_se.dims == ("scenario", "path")
    np.testing.assert_allclose(per.size_variance, 0.2, atol=0.04)
    np.testing.assert_allclose(per.up_or_out, 4.0, rtol=0.15)
    np.testing.assert_allclose(per.rd_return, 0.0, atol=4 * float(per.rd_return_se.max()))
    # entrants are a third of a random incumbent's share: a third of the median
    np.testing.assert_allclose(per.entrant_size, 1 / 3, rtol=0.15)
    old = stylized.scenario_facts(snapshots.drop_vars("age"))
    assert np.isnan(old.up_or_out).all()
    for name in stylized.FACT_NAMES:
        if name != "up_or_out":
            np.testing.assert_array_equal(old[name], per[name])
    table = stylized.summarise(old)
    assert int(table.measured.sel(fact="up_or_out", path="baseline")) == 0


def test_net_entry_is_foster_haltiwanger_krizan_on_a_panel_worked_by_hand():
    # four slots, three years: slots 0 and 1 survive, slot 2 is replaced in year 1 and
    # slot 3 in year 2; shares sum to 1 each year, as the kernel's do
    log_tfp = np.array([[0.0, 0.1, 0.3], [0.2, 0.3, 0.5], [-0.4, 0.6, 0.9], [-0.2, -0.1, 0.4]])
    share = np.array([[0.4, 0.4, 0.3], [0.3, 0.3, 0.3], [0.2, 0.1, 0.2], [0.1, 0.2, 0.2]])
    entered = np.array([[0, 0, 0], [0, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=float)
    panel = [x.T[None, None] for x in (log_tfp, share, entered)]  # (1, 1, y, i)
    start = 0.4 * 0.0 + 0.3 * 0.2 + 0.2 * -0.4 + 0.1 * -0.2  # P_0 = -0.04
    total = (0.3 * 0.3 + 0.3 * 0.5 + 0.2 * 0.9 + 0.2 * 0.4) - start  # 0.54
    entry = 0.2 * (0.9 - start) + 0.2 * (0.4 - start)
    exit_ = 0.2 * (-0.4 - start) + 0.1 * (-0.2 - start)  # below P_0: exit adds
    got = panel_facts.net_entry(*panel)
    assert got[0, 0] == pytest.approx((entry - exit_) / total)
    assert got[0, 0] == pytest.approx((0.276 + 0.088) / 0.54)  # by hand
    # no replaced slot, or falling productivity: not measured
    assert np.isnan(panel_facts.net_entry(panel[0], panel[1], np.zeros_like(panel[2]))).all()
    assert np.isnan(panel_facts.net_entry(-panel[0], panel[1], panel[2])).all()


def test_held_out_facts_are_marked_and_set_against_their_range():
    held = {f.name for f in stylized.FACTS if f.held_out}
    assert held == {"up_or_out", "rd_return", "net_entry"}
    table = stylized.facts(_synthetic_snapshots(np.random.default_rng(18)))
    assert table.held_out.sel(fact="up_or_out") and not table.held_out.sel(fact="size_variance")
    assert bool(table.checked.sel(fact="up_or_out", path="baseline"))
    assert bool(table.in_range.sel(fact="up_or_out", path="baseline"))  # 4 in 1.5-5
    assert not bool(table.in_range.sel(fact="rd_return", path="baseline"))  # 0: below 0.05
    assert (table.high.sel(fact="entrant_size", path="baseline") == 1.0).all()


def test_facts_table_names_ranges_sources_and_checks_the_baseline():
    from resonance.flows.config import load_config

    config = load_config(
        DEFAULT_CONFIG,
        {
            "sizes.scenarios": 4,
            "sizes.firms": 200,
            "sizes.firm_snapshots": 4,
            "paths": ["baseline", "factor_reset"],
        },
    )
    snapshots = stylized.simulate_snapshots(config)
    assert dict(snapshots.sizes) == {"scenario": 4, "path": 2, "year": 10, "firm": 200}
    table = stylized.facts(snapshots)
    assert set(table.fact.values) == set(stylized.FACT_NAMES)
    assert table.checked.sel(path="baseline").all()
    assert bool(table.checked.sel(path="factor_reset", fact="tfp_growth"))
    assert not table.checked.sel(path="factor_reset", fact="persistence")
    # up or out reads the snapshots' age, which older kernels do not write
    needs_age = [] if "age" in snapshots else ["up_or_out"]
    assert (table.measured.sel(path="baseline").drop_sel(fact=needs_age) == 4).all()
    assert (table.measured.sel(path="baseline", fact=needs_age) == 0).all()
    assert "Axtell" in str(table.source.sel(fact="size_tail_end").values)
    # a median pushed outside its range is reported out of range
    per_scenario = stylized.scenario_facts(snapshots)
    per_scenario["exit_rate"][:] = 50.0
    moved = stylized.summarise(per_scenario)
    assert not bool(moved.in_range.sel(fact="exit_rate", path="baseline"))


def test_facts_check_fails_when_innovation_steps_are_ten_times_larger(tmp_path, capsys):
    from resonance.flows.config import load_config

    # Against the default's nominal inc_scale: a posterior (which would carry inc_scale)
    # is set aside on both sides.
    def nominal(raw):
        raw["uncertain"].pop("from", None)

    def tenfold(raw):
        nominal(raw)
        raw["parameters"]["inc_scale"] *= 10

    file = write_config(tmp_path, tenfold)
    default = write_config(tmp_path, nominal, "nominal.yaml")
    # The default sample (16 x 1,000): on fewer firms the big ones, whose old track
    # saturates first, carry the aggregate and tenfold steps stay near the range's edge.
    sizes = {"sizes.scenarios": 16, "sizes.firms": 1000, "paths": ["baseline"]}
    growth = {
        name: float(
            stylized.facts(stylized.simulate_snapshots(load_config(f, sizes)))["median"].sel(
                fact="tfp_growth", path="baseline"
            )
        )
        for name, f in (("default", default), ("tenfold", file))
    }
    # incremental steps are one source of growth among several (breakthroughs, the world
    # frontier, selection): tenfold steps add more than two points and leave the range
    assert growth["tenfold"] > growth["default"] + 2.0 and growth["tenfold"] > 6.0
    args = ["facts", str(file), "--scenarios", "16", "--firms", "1000", "--paths", "baseline"]
    assert main([*args, "--check"]) == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert "out of range" in last and "tfp_growth" in last
    assert main(args) == 0  # without --check the table is only reported


def test_facts_of_a_store_read_its_snapshots(tmp_path, capsys):
    store = tmp_path / "s.zarr"
    assert main(tiny_run(store, firms=60, quarters=12)) == 0
    capsys.readouterr()
    assert main(["facts", str(store)]) == 0  # reported, not checked
    out = capsys.readouterr().out
    assert "4 scenarios x 60 firms, 3 years" in out and "aggregate TFP growth" in out
    assert "up or out*" in out and "not fitted" in out  # held-out facts are marked
    firms = xr.open_zarr(store, group="firms")
    direct = stylized.facts(firms)
    assert direct.sizes["fact"] == len(stylized.FACT_NAMES) and direct.sizes["path"] == 1


def test_facts_check_reports_held_out_facts_but_does_not_fail_on_them():
    from types import SimpleNamespace

    from resonance.flows.commands import steps
    from resonance.flows.config import load_config

    sizes = {"sizes.scenarios": 4, "sizes.firms": 200, "paths": ["baseline"]}
    snapshots = stylized.simulate_snapshots(load_config(DEFAULT_CONFIG, sizes))
    # ages that say nothing of exits: young and old firms exit alike, up or out is ~1
    age = np.random.default_rng(19).uniform(0.0, 6.0, size=snapshots.entered.shape)
    snapshots = snapshots.assign(age=(snapshots.entered.dims, age.astype(np.float32)))
    args = SimpleNamespace(baseline="baseline", check=True)
    result = steps.facts((snapshots, "synthetic"), args)
    assert "up_or_out" in result.held_out_missed
    assert not {f.name for f in stylized.FACTS if f.held_out} & set(result.missed)
    assert steps.facts_status(result, args) == (1 if result.missed else 0)
    assert steps.facts_status(result._replace(missed=[]), args) == 0  # held-out misses only
    lines = [line for line in steps.facts_tables(result, args) if isinstance(line, str)]
    held = next(line for line in lines if "held-out" in line)
    assert "not fitted" in held and "--check does not fail" in held and "up_or_out" in held


def test_facts_check_fails_when_a_path_grows_past_the_cap_every_path_has(
    tmp_path, capsys, monkeypatch
):
    """MODEL.md §8: no path's median TFP growth above MAX_PATH_TFP_GROWTH. On a sample
    whose every fitted baseline fact lands, --check passes; with the cap lowered below what
    all_paths reaches it fails, and names the path with its median."""
    from resonance.flows.config import load_config

    args = ["facts", str(DEFAULT_CONFIG), "--scenarios", "4", "--firms", "200"]
    args += ["--paths", "baseline,all_paths", "--check"]
    assert main(args) == 0
    assert "baseline: every fitted fact in range" in capsys.readouterr().out
    sizes = {"sizes.scenarios": 4, "sizes.firms": 200, "paths": ["baseline", "all_paths"]}
    sample = stylized.facts(stylized.simulate_snapshots(load_config(DEFAULT_CONFIG, sizes)))
    reached = float(sample["median"].sel(fact="tfp_growth", path="all_paths"))
    monkeypatch.setattr(stylized, "MAX_PATH_TFP_GROWTH", reached - 0.5)
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "baseline: every fitted fact in range" in out
    assert f"all_paths: median aggregate TFP growth {reached:.3g} %/yr, past the" in out
