"""Preference losses: hand-computed values, shapes, batch dependence, stability and bad input."""

import inspect
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.objectives import (
    BATCH_DEPENDENT_LOSSES,
    F_DIVERGENCE_LOSSES,
    PREFERENCE_LOSS_ALIASES,
    PREFERENCE_LOSSES,
    TRL_LOSS_TYPES,
    BCORewardShift,
    bco_pair_loss,
    combined_preference_loss,
    discopop_loss,
    exo_pair_loss,
    f_divergence_score,
    get_preference_loss,
    implicit_rewards,
    robust_loss,
    sigmoid_loss,
    update_bco_reward_shift,
    validate_preference_inputs,
)

# Five pairs: rho = [1.5, -2.5, -0.5, 1, -2]; logp_w > logp_l only for pairs 0 and 2 (pair 3 ties).
PC = np.array([-3.0, -5.0, -2.0, -4.0, -10.0])
PR = np.array([-4.0, -3.0, -2.5, -4.0, -1.0])
RC = np.array([-3.5, -4.0, -2.0, -6.0, -9.0])
RR = np.array([-3.0, -4.5, -3.0, -5.0, -2.0])
BETA = 0.5


def sig(v):
    return 1.0 / (1.0 + np.exp(-v))


def logsig(v):
    return -np.log1p(np.exp(-v))


def relu(v):
    return np.maximum(v, 0.0)


def parts(pc, pr, rc, rr, beta):
    h_w, h_l = pc - rc, pr - rr
    return h_w, h_l, beta * (h_w - h_l)


# Reference implementations in float64 numpy, written from the definitions (the papers,
# TRL's DPOTrainer, Lu et al. 2024's code); batch statistics use the unbiased estimators.
def ref_kto_pair(pc, pr, rc, rr, beta):
    h_w, h_l, _ = parts(pc, pr, rc, rr, beta)
    kl_w, kl_l = max(h_w.mean(), 0.0), max(h_l.mean(), 0.0)
    return 0.5 * ((1 - sig(beta * (h_w - kl_l))) + (1 - sig(beta * (kl_w - h_l))))


def ref_exo(eps):
    def f(pc, pr, rc, rr, beta):
        x = parts(pc, pr, rc, rr, beta)[2]
        return sig(x) * (logsig(x) - math.log(1 - eps)) + sig(-x) * (logsig(-x) - math.log(eps))

    return f


def ref_discopop(tau):
    def f(pc, pr, rc, rr, beta):
        x = parts(pc, pr, rc, rr, beta)[2]
        m = sig(x / tau)
        return (1 - m) * -logsig(x) + m * np.exp(-x)

    return f


def ref_aql(pc, pr, rc, rr, beta):
    x = parts(pc, pr, rc, rr, beta)[2]
    z = x / 0.05
    q = 0.5 + 0.01 * (sig(z.mean()) - 0.5)
    w = sig(-(z - q))
    return w * -logsig(x) + (1 - w) * relu(1 - x)


def ref_aqfl(pc, pr, rc, rr, beta):
    x = parts(pc, pr, rc, rr, beta)[2]
    z = x / 0.05
    q = z.std(ddof=1) * sig(-z).mean()
    q += 0.05 * (sig(z.mean()) - q)
    b = sig(0.1 * np.abs(z - q))
    return b * -logsig(x) + (1 - b) * relu(1 - x)


def ref_dbaql(pc, pr, rc, rr, beta):
    x = parts(pc, pr, rc, rr, beta)[2]
    c = sig((x / 0.05).var(ddof=1))
    return c * -logsig(x / 0.9) + (1 - c) * np.exp(-0.9 * x)


CASES = [
    ("sigmoid", {}, lambda *a: -logsig(parts(*a)[2])),
    (
        "sigmoid",
        {"label_smoothing": 0.1},
        lambda *a: -0.9 * logsig(parts(*a)[2]) - 0.1 * logsig(-parts(*a)[2]),
    ),
    ("robust", {}, lambda *a: -logsig(parts(*a)[2])),
    (
        "robust",
        {"label_smoothing": 0.2},
        lambda *a: (-0.8 * logsig(parts(*a)[2]) + 0.2 * logsig(-parts(*a)[2])) / 0.6,
    ),
    ("hinge", {}, lambda *a: relu(1 - parts(*a)[2])),
    ("ipo", {}, lambda pc, pr, rc, rr, b: ((pc - pr) - (rc - rr) - 1 / (2 * b)) ** 2),
    ("kto_pair", {}, ref_kto_pair),
    (
        "bco_pair",
        {},
        lambda pc, pr, rc, rr, b: -logsig(b * (pc - rc)) - logsig(-b * (pr - rr)),
    ),
    ("exo_pair", {}, ref_exo(1e-3)),
    ("exo_pair", {"label_smoothing": 0.1}, ref_exo(0.1)),
    (
        "nca_pair",
        {},
        lambda pc, pr, rc, rr, b: (
            -logsig(b * (pc - rc)) - 0.5 * logsig(-b * (pc - rc)) - 0.5 * logsig(-b * (pr - rr))
        ),
    ),
    (
        "sppo_hard",
        {},
        lambda pc, pr, rc, rr, b: (pc - rc - 0.5 / b) ** 2 + (pr - rr + 0.5 / b) ** 2,
    ),
    (
        "apo_zero",
        {},
        lambda pc, pr, rc, rr, b: 1 - sig(b * (pc - rc)) + sig(b * (pr - rr)),
    ),
    (
        "apo_down",
        {},
        lambda pc, pr, rc, rr, b: sig(b * (pc - rc)) + 1 - sig(parts(pc, pr, rc, rr, b)[2]),
    ),
    (
        "aot",
        {},
        lambda pc, pr, rc, rr, b: -logsig(b * (np.sort(pc - pr) - np.sort(rc - rr))),
    ),
    (
        "aot_unpaired",
        {"label_smoothing": 0.1},
        lambda pc, pr, rc, rr, b: (
            -0.9 * logsig(b * (np.sort(pc - rc) - np.sort(pr - rr)))
            - 0.1 * logsig(-b * (np.sort(pc - rc) - np.sort(pr - rr)))
        ),
    ),
    ("sft", {}, lambda pc, *_: np.full_like(pc, -pc.mean())),
    (
        "sft",
        {"chosen_lengths": np.array([3, 5, 2, 4, 6])},
        lambda pc, *_: np.full_like(pc, -pc.sum() / 20),
    ),
    ("sigmoid_norm", {}, lambda *a: -logsig(parts(*a)[2])),
    (
        "sigmoid_norm",
        {
            "chosen_lengths": np.array([3, 5, 2, 4, 0]),
            "rejected_lengths": np.array([2, 1, 1, 4, 2]),
        },
        lambda pc, pr, rc, rr, b: (
            -logsig(b * ((pc - rc) / [3, 5, 2, 4, 1] - (pr - rr) / [2, 1, 1, 4, 2]))
        ),
    ),
    ("discopop", {}, ref_discopop(0.05)),
    ("discopop", {"tau": 0.5}, ref_discopop(0.5)),
    (
        "padll",
        {},
        lambda *a: 0.9 * (1 - 0.5 * ((a[0] - a[1]) - (a[2] - a[3]) < 0)) * -logsig(parts(*a)[2]),
    ),
    (
        "cell",
        {},
        lambda *a: 0.5 * np.exp(-parts(*a)[2]) + 0.5 * -logsig(parts(*a)[2]),
    ),
    (
        "pfl",
        {},
        lambda *a: np.where(a[0] > a[1], -logsig(parts(*a)[2]) / 2, 2 * relu(1 - parts(*a)[2])),
    ),
    ("aql", {}, ref_aql),
    ("aqfl", {}, ref_aqfl),
    ("dbaql", {}, ref_dbaql),
]


def test_every_registered_loss_has_a_hand_computed_case():
    assert {name for name, _, _ in CASES} == set(PREFERENCE_LOSSES)
    batch = {"kto_pair", "aot", "aot_unpaired", "sft", "aql", "aqfl", "dbaql"}
    assert batch == BATCH_DEPENDENT_LOSSES


def test_every_trl_loss_type_is_registered_and_dpo_is_sigmoid():
    assert len(TRL_LOSS_TYPES) == len(set(TRL_LOSS_TYPES)) == 15
    assert set(TRL_LOSS_TYPES) <= set(PREFERENCE_LOSSES)
    assert set(PREFERENCE_LOSSES) - set(TRL_LOSS_TYPES) == {
        "kto_pair",
        *("padll", "cell", "pfl", "aql", "aqfl", "dbaql"),
    }
    assert PREFERENCE_LOSS_ALIASES == {"dpo": "sigmoid"}
    assert get_preference_loss("dpo") is sigmoid_loss is get_preference_loss("sigmoid")
    assert "dpo" not in PREFERENCE_LOSSES  # iterating the registry meets every loss once


@pytest.mark.parametrize(("name", "kwargs", "reference"), CASES)
def test_values_match_the_definitions(name, kwargs, reference):
    got = get_preference_loss(name)(PC, PR, RC, RR, beta=BETA, **kwargs)
    assert got.shape == PC.shape
    np.testing.assert_allclose(got, reference(PC, PR, RC, RR, BETA), rtol=2e-5, atol=1e-6)


LOG2 = math.log(2.0)
# At policy == reference (h_w = h_l = 0, x = 0) with beta 0.5; policy logp_w == logp_l.
AT_REFERENCE = {
    "sigmoid": LOG2,
    "robust": LOG2,
    "hinge": 1.0,
    "ipo": 1.0,
    "kto_pair": 0.5,
    "bco_pair": 2 * LOG2,
    "exo_pair": 0.5 * (-LOG2 - math.log(1 - 1e-3)) + 0.5 * (-LOG2 - math.log(1e-3)),
    "nca_pair": 2 * LOG2,
    "sppo_hard": 2.0,
    "apo_zero": 1.0,
    "apo_down": 1.0,
    "aot": LOG2,
    "aot_unpaired": LOG2,
    "discopop": 0.5 * LOG2 + 0.5,
    "sft": 2.0,
    "sigmoid_norm": LOG2,
    "padll": 0.9 * LOG2,
    "cell": 0.5 + 0.5 * LOG2,
    "pfl": 2.0,
    "aql": sig(0.5) * LOG2 + (1 - sig(0.5)),
    "aqfl": sig(0.0025) * LOG2 + (1 - sig(0.0025)),
    "dbaql": 0.5 * LOG2 + 0.5,
}


@pytest.mark.parametrize("name", sorted(PREFERENCE_LOSSES))
def test_closed_form_at_the_reference_and_finite_gradients_at_zero_variance(name):
    logps = jnp.full((4,), -2.0)
    loss = get_preference_loss(name)
    np.testing.assert_allclose(loss(logps, logps, logps, logps, beta=BETA), AT_REFERENCE[name])
    grads = jax.grad(lambda *a: loss(*a, beta=BETA).sum(), argnums=(0, 1, 2, 3))(
        logps, logps, logps, logps
    )
    assert all(bool(jnp.isfinite(g).all()) for g in grads)


def test_implicit_rewards():
    chosen, rejected = implicit_rewards(PC, PR, RC, RR, beta=BETA)
    np.testing.assert_allclose(chosen, BETA * (PC - RC))
    np.testing.assert_allclose(rejected, BETA * (PR - RR))


def test_discopop_is_logistic_for_negative_and_exponential_for_positive_margins():
    x = np.linspace(2.0, 20.0, 37)
    zeros = np.zeros_like(x)
    below = discopop_loss(-x, zeros, zeros, zeros, beta=1.0)
    above = discopop_loss(x, zeros, zeros, zeros, beta=1.0)
    np.testing.assert_allclose(below, np.log1p(np.exp(x)), rtol=1e-5)
    np.testing.assert_allclose(above, np.exp(-x), rtol=1e-5)
    # the default tau is 0.05, and the loss is non-monotone around x = 0 (Lu et al. 2024)
    np.testing.assert_array_equal(above, discopop_loss(x, zeros, zeros, zeros, beta=1.0, tau=0.05))
    slope = jax.grad(lambda p: discopop_loss(p, 0.0, 0.0, 0.0, beta=1.0))(0.0)
    assert float(slope) > 0


X_GRID = np.linspace(-50.0, 50.0, 201)
DECREASING = [
    ("sigmoid", {}),
    ("robust", {}),
    ("robust", {"label_smoothing": 0.2}),
    ("hinge", {}),
    ("bco_pair", {}),
    ("apo_zero", {}),
    ("aot", {}),
    ("aot_unpaired", {"label_smoothing": 0.1}),
    ("sigmoid_norm", {}),
    ("padll", {}),
    ("cell", {}),
    ("pfl", {}),
]


@pytest.mark.parametrize(("name", "kwargs"), DECREASING)
def test_losses_decrease_with_rho(name, kwargs):
    loss = get_preference_loss(name)
    beta = 0.1
    rho = X_GRID / beta
    pc, pr, ref = jnp.asarray(rho / 2), jnp.asarray(-rho / 2), jnp.zeros_like(rho)
    d_chosen, d_rejected = jax.grad(
        lambda c, r: loss(c, r, ref, ref, beta=beta, **kwargs).sum(), argnums=(0, 1)
    )(pc, pr)
    assert float(d_chosen.max()) <= 0.0
    assert float(d_rejected.min()) >= 0.0


@pytest.mark.parametrize("name", sorted(PREFERENCE_LOSSES))
def test_batch_dependence(name):
    # pair 0 at rho = 0 and a small beta, where the batch statistics move every mixture weight;
    # then the other pairs change unevenly (their mean and spread both change)
    loss = get_preference_loss(name)
    pc = PC.copy()
    pc[0] = -4.5
    base = loss(pc, PR, RC, RR, beta=0.01)
    changed = loss(pc + np.array([0.0, 30.0, 10.0, -20.0, 50.0]), PR, RC, RR, beta=0.01)
    if name in BATCH_DEPENDENT_LOSSES:
        assert abs(float(changed[0]) - float(base[0])) > 1e-4
    else:
        assert float(changed[0]) == float(base[0])


@pytest.mark.parametrize("beta", [1.0, 0.05])
@pytest.mark.parametrize("name", sorted(PREFERENCE_LOSSES))
def test_no_nan_in_values_or_gradients_on_a_wide_grid(name, beta):
    loss = get_preference_loss(name)
    rho = jnp.asarray(X_GRID / beta)
    args = (rho / 2, -rho / 2, jnp.zeros_like(rho), jnp.zeros_like(rho))

    def total(*a):
        return loss(*a, beta=beta).sum()

    # the whole grid as one batch, and every point as its own batch of one
    singles = tuple(a[:, None] for a in args)
    values = [loss(*args, beta=beta), jax.vmap(lambda *a: loss(*a, beta=beta))(*singles)]
    grads = [*jax.grad(total, argnums=(0, 1, 2, 3))(*args)]
    grads += [*jax.vmap(jax.grad(total, argnums=(0, 1, 2, 3)))(*singles)]
    for array in values + grads:
        assert not bool(jnp.isnan(array).any()), name
        assert bool(jnp.isfinite(array).all()), name


def test_exponential_terms_stay_finite_where_their_weight_vanishes():
    # m * exp(-x) in DiscoPOP and (1 - c) * exp(-0.9 x) in DBAQL would be 0 * inf here
    x = jnp.array([-1000.0, -200.0, 0.0, 5.0])
    zeros = jnp.zeros_like(x)
    for name in ("discopop", "dbaql"):
        loss = get_preference_loss(name)
        value = loss(x, zeros, zeros, zeros, beta=1.0)
        grad = jax.grad(lambda c, f=loss: f(c, zeros, zeros, zeros, beta=1.0).sum())(x)
        assert bool(jnp.isfinite(value).all()) and bool(jnp.isfinite(grad).all()), name
    np.testing.assert_allclose(
        discopop_loss(x[:2], zeros[:2], zeros[:2], zeros[:2], beta=1.0), [1000.0, 200.0]
    )


def test_beta_may_be_traced_under_jit_and_vmap():
    eager = sigmoid_loss(PC, PR, RC, RR, beta=BETA)
    jitted = jax.jit(lambda b: sigmoid_loss(PC, PR, RC, RR, beta=b))(BETA)
    np.testing.assert_allclose(jitted, eager, rtol=1e-6)
    betas = jnp.array([0.1, BETA])
    swept = jax.vmap(lambda b: sigmoid_loss(PC, PR, RC, RR, beta=b))(betas)
    np.testing.assert_allclose(swept[1], eager, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(PREFERENCE_LOSSES))
def test_shape_mismatch_and_nonpositive_beta_raise(name):
    loss = get_preference_loss(name)
    with pytest.raises(ValueError, match="policy_rejected_logps"):
        loss(PC, PR[:4], RC, RR, beta=BETA)
    with pytest.raises(ValueError, match="reference_rejected_logps"):
        loss(PC, PR, RC, RR[:, None], beta=BETA)
    for beta in (0.0, -0.1, np.float32(-1.0), jnp.array(0.0), float("nan")):
        with pytest.raises(ValueError, match="beta"):
            loss(PC, PR, RC, RR, beta=beta)


def test_validation_is_usable_before_compilation():
    validate_preference_inputs(PC, PR, RC, RR, BETA)
    with pytest.raises(ValueError, match="reference_chosen_logps"):
        validate_preference_inputs(PC, PR, RC[:2], RR, BETA)
    with pytest.raises(ValueError, match="beta"):
        validate_preference_inputs(PC, PR, RC, RR, -1)
    with pytest.raises(ValueError, match="label_smoothing"):
        robust_loss(PC, PR, RC, RR, beta=BETA, label_smoothing=0.5)
    with pytest.raises(ValueError, match="label_smoothing"):
        get_preference_loss("exo_pair")(PC, PR, RC, RR, beta=BETA, label_smoothing=0.0)
    with pytest.raises(ValueError, match="tau"):
        discopop_loss(PC, PR, RC, RR, beta=BETA, tau=0.0)


def test_unknown_loss_name_lists_the_registry():
    with pytest.raises(ValueError, match="unknown preference loss 'kto'") as info:
        get_preference_loss("kto")
    assert all(name in str(info.value) for name in [*PREFERENCE_LOSSES, "dpo"])


# ---------------------------------------------------------------- parity with TRL 1.16 (float64)


@pytest.fixture
def x64():
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", previous)


def trl_logsigmoid(v):
    """torch.nn.functional.logsigmoid in float64: min(v, 0) - log1p(exp(-|v|))."""
    return np.minimum(v, 0.0) - np.log1p(np.exp(-np.abs(v)))


def trl_sigmoid(v):
    return np.exp(trl_logsigmoid(v))


def trl_scores(logratios, f_divergence_type, alpha):
    """TRL 1.16, trl/trainer/dpo_trainer.py, DPOTrainer._compute_loss, lines 1353-1381.

    TRL's alpha-divergence clamp table has float16/bfloat16/float32 only (float64 raises a
    KeyError there); the float32 bound 80 is used, as the library does.
    """
    if f_divergence_type == "reverse_kl":
        return logratios
    if f_divergence_type == "forward_kl":
        return 1 - np.exp(-logratios)
    if f_divergence_type == "js_divergence":
        return math.log(2) + trl_logsigmoid(logratios)
    if abs(alpha - 1.0) < 1e-6:
        return logratios
    return (np.exp(np.minimum((alpha - 1.0) * logratios, 80.0)) - 1.0) * (1.0 / (alpha - 1.0))


def trl_loss(loss_type, case, beta, label_smoothing=0.0, f_type="reverse_kl", alpha=0.5, tau=0.05):
    """Per-sequence losses of TRL 1.16's DPOTrainer._compute_loss, transcribed to numpy.

    trl 1.16.0, trl/trainer/dpo_trainer.py: log-probs summed over the completion tokens (lines
    1303-1316, 1340-1347), log-ratios and f-divergence scores (1350-1383), the loss branches
    (1386-1516). The batch is TRL's [chosen; rejected] halves, kept apart here; ``mask`` plays
    both completion_mask (ipo, sigmoid_norm) and its shifted copy (sft), which count the same
    completion tokens.
    """
    ls = label_smoothing
    chosen_logps, rejected_logps = (
        (case["pc"] * case["mc"]).sum(1),
        (case["pr"] * case["mr"]).sum(1),
    )
    ref_chosen_logps = (case["rc"] * case["mc"]).sum(1)
    ref_rejected_logps = (case["rr"] * case["mr"]).sum(1)
    chosen_logratios = chosen_logps - ref_chosen_logps
    rejected_logratios = rejected_logps - ref_rejected_logps
    chosen_scores = trl_scores(chosen_logratios, f_type, alpha)
    rejected_scores = trl_scores(rejected_logratios, f_type, alpha)
    delta_score = chosen_scores - rejected_scores
    chosen_len = np.maximum(case["mc"].sum(1), 1.0)
    rejected_len = np.maximum(case["mr"].sum(1), 1.0)
    if loss_type == "sigmoid":  # 1387-1388
        return -trl_logsigmoid(beta * delta_score)
    if loss_type == "hinge":  # 1390-1391
        return np.maximum(1 - beta * delta_score, 0.0)
    if loss_type == "ipo":  # 1393-1404
        ipo_delta = chosen_scores / chosen_len - rejected_scores / rejected_len
        return (ipo_delta - 1 / (2 * beta)) ** 2
    if loss_type == "exo_pair":  # 1406-1417
        x = beta * delta_score
        return trl_sigmoid(x) * (trl_logsigmoid(x) - np.log1p(-ls)) + trl_sigmoid(-x) * (
            trl_logsigmoid(-x) - np.log(ls)
        )
    if loss_type == "nca_pair":  # 1419-1426
        r_w, r_l = beta * chosen_logratios, beta * rejected_logratios
        return -trl_logsigmoid(r_w) - 0.5 * trl_logsigmoid(-r_w) - 0.5 * trl_logsigmoid(-r_l)
    if loss_type == "robust":  # 1428-1431
        clean = -(1 - ls) * trl_logsigmoid(beta * delta_score)
        flipped = -ls * trl_logsigmoid(-beta * delta_score)
        return (clean - flipped) / (1 - 2 * ls)
    if loss_type == "bco_pair":  # 1433-1436
        return -trl_logsigmoid(beta * chosen_logratios) - trl_logsigmoid(-beta * rejected_logratios)
    if loss_type == "sppo_hard":  # 1438-1445
        return (chosen_logratios - 0.5 / beta) ** 2 + (rejected_logratios + 0.5 / beta) ** 2
    if loss_type in ("aot", "aot_unpaired"):  # 1447-1456 and 1458-1465
        if loss_type == "aot":
            policy, reference = chosen_logps - rejected_logps, ref_chosen_logps - ref_rejected_logps
        else:
            policy, reference = chosen_logratios, rejected_logratios
        d = np.sort(policy, axis=0) - np.sort(reference, axis=0)
        return -trl_logsigmoid(beta * d) * (1 - ls) - trl_logsigmoid(-beta * d) * ls
    if loss_type == "apo_zero":  # 1467-1473
        return (1 - trl_sigmoid(beta * chosen_logratios)) + trl_sigmoid(beta * rejected_logratios)
    if loss_type == "apo_down":  # 1475-1481
        down = 1 - trl_sigmoid(beta * (chosen_logratios - rejected_logratios))
        return trl_sigmoid(beta * chosen_logratios) + down
    if loss_type == "discopop":  # 1483-1493
        logits = delta_score * beta
        modulation = trl_sigmoid(logits / tau)
        return -trl_logsigmoid(logits) * (1 - modulation) + np.exp(-logits) * modulation
    if loss_type == "sft":  # 1495-1502
        return np.full(len(chosen_logps), -case["pc"][case["mc"].astype(bool)].mean())
    assert loss_type == "sigmoid_norm"  # 1504-1509
    delta = chosen_scores / chosen_len - rejected_scores / rejected_len
    return -trl_logsigmoid(beta * delta)


def _tokens(sums, lengths, width):
    """Per-token log-probs (zero past each completion) summing to ``sums``, unevenly spread."""
    out = np.zeros((len(sums), width))
    for row, (total, n) in enumerate(zip(sums, lengths, strict=True)):
        weights = np.arange(1.0, n + 1)
        out[row, :n] = total * weights / weights.sum()
    return out


def _case(pc, pr, rc, rr, nc, nr, width=6):
    mc = (np.arange(width) < np.asarray(nc)[:, None]).astype(float)
    mr = (np.arange(width) < np.asarray(nr)[:, None]).astype(float)
    return {
        "pc": _tokens(pc, nc, width),
        "pr": _tokens(pr, nr, width),
        "rc": _tokens(rc, nc, width),
        "rr": _tokens(rr, nr, width),
        "mc": mc,
        "mr": mr,
    }


TRL_CASES = {
    # five pairs of different lengths, unsorted margins (aot permutes them); PC..RR from above
    "mixed": _case(PC, PR, RC, RR, [6, 3, 4, 1, 5], [2, 6, 5, 4, 1]),
    # margin 0 in every pair: policy == reference, h_w = h_l = -1 (twice: tied in the sort), and
    # h_w = h_l = 0.5; equal lengths, so the per-token margins tie as well
    "ties": _case(
        [-2.0, -3.0, -3.0, -1.5],
        [-2.0, -4.0, -4.0, -2.5],
        [-2.0, -2.0, -2.0, -2.0],
        [-2.0, -3.0, -3.0, -3.0],
        [2, 2, 2, 2],
        [2, 2, 2, 2],
    ),
    # |x| = 100 at beta 0.1: h_w = +-500, h_l = -+500; the last pair has x = -100 from h_w alone
    "large": _case(
        [-100.0, -1100.0, -1050.0],
        [-1100.0, -100.0, -60.0],
        [-600.0, -600.0, -50.0],
        [-600.0, -600.0, -60.0],
        [4, 4, 3],
        [4, 4, 5],
    ),
}


def _summed(case):
    """The four summed log-probabilities of a case, as the library takes them."""
    pairs = (("pc", "mc"), ("pr", "mr"), ("rc", "mc"), ("rr", "mr"))
    return [(case[tokens] * case[mask]).sum(1) for tokens, mask in pairs]


def _library_kwargs(loss_type, case, settings):
    """The library's keyword arguments for ``loss_type`` on ``case`` with TRL's ``settings``."""
    kwargs = {}
    lengths = {"chosen_lengths": case["mc"].sum(1), "rejected_lengths": case["mr"].sum(1)}
    if loss_type in ("ipo", "sigmoid_norm"):
        kwargs.update(lengths)
    if loss_type == "sft":
        kwargs["chosen_lengths"] = lengths["chosen_lengths"]
    if "label_smoothing" in settings:
        kwargs["label_smoothing"] = settings["label_smoothing"]
    if "f_type" in settings:
        kwargs["f_divergence_type"] = settings["f_type"]
        kwargs["f_alpha_divergence_coef"] = settings.get("alpha", 0.5)
    if "tau" in settings:
        kwargs["tau"] = settings["tau"]
    return kwargs


F_SETTINGS = [
    {"f_type": "reverse_kl"},
    {"f_type": "forward_kl"},
    {"f_type": "js_divergence"},
    {"f_type": "alpha_divergence"},
    {"f_type": "alpha_divergence", "alpha": 1.0},
    {"f_type": "alpha_divergence", "alpha": 2.5},
]
SMOOTHED = {"exo_pair": (1e-3, 0.1), "robust": (0.2,), "aot": (0.1,), "aot_unpaired": (0.3,)}


def _parity_cases():
    for loss_type in TRL_LOSS_TYPES:
        # TRL 1.16 raises for exo_pair at its default label_smoothing 0: the paper's 1e-3
        base = {"label_smoothing": 1e-3} if loss_type == "exo_pair" else {}
        for case in TRL_CASES:
            yield loss_type, case, base
        for eps in SMOOTHED.get(loss_type, ()):
            yield loss_type, "mixed", {"label_smoothing": eps}
        if loss_type == "discopop":
            yield loss_type, "mixed", {"tau": 0.5}
        if loss_type in F_DIVERGENCE_LOSSES - {"sft"}:
            for case in ("mixed", "ties"):
                for f in F_SETTINGS:
                    yield loss_type, case, {**base, **f}
            # the alpha clamp binds: (alpha - 1) h = 250 > 80 on the large case (where TRL's
            # discopop overflows to NaN, |x| ~ 1e34: see the float32 test below)
            if loss_type != "discopop":
                yield loss_type, "large", {**base, "f_type": "alpha_divergence"}


@pytest.mark.parametrize(("loss_type", "case", "settings"), list(_parity_cases()))
def test_equals_trl_1_16(x64, loss_type, case, settings):
    tokens, beta = TRL_CASES[case], 0.1
    expected = trl_loss(loss_type, tokens, beta, **settings)
    assert np.isfinite(expected).all()
    loss = get_preference_loss(loss_type)
    got = loss(*_summed(tokens), beta=beta, **_library_kwargs(loss_type, tokens, settings))
    assert got.dtype == jnp.float64
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-15)


def test_trl_cases_exercise_what_they_claim(x64):
    ties, large = TRL_CASES["ties"], TRL_CASES["large"]
    np.testing.assert_allclose(trl_loss("sigmoid", ties, 0.1), LOG2, rtol=1e-15)
    np.testing.assert_allclose(trl_loss("sigmoid_norm", ties, 0.1), LOG2, rtol=1e-15)
    x = np.array([100.0, -100.0, -100.0])  # beta (h_w - h_l)
    np.testing.assert_allclose(trl_loss("hinge", large, 0.1), np.maximum(1 - x, 0), rtol=1e-13)
    mixed = TRL_CASES["mixed"]
    margins = (mixed["pc"] * mixed["mc"] - mixed["pr"] * mixed["mr"]).sum(1)
    assert not np.all(np.diff(margins) >= 0)  # aot's sort reorders this batch
    assert not np.allclose(trl_loss("aot", mixed, 0.1), trl_loss("sigmoid", mixed, 0.1))


@pytest.mark.parametrize("eps", [0.1, 1.0])
def test_sigmoid_label_smoothing_is_conservative_dpo_of_trl_0_28(x64, eps):
    # trl 0.28.0, trl/trainer/dpo_trainer.py, DPOTrainer.dpo_loss, lines 1152-1156 (TRL >= 0.29
    # ignores label_smoothing for sigmoid)
    logits = (PC - PR) - (RC - RR)
    expected = -trl_logsigmoid(0.1 * logits) * (1 - eps) - trl_logsigmoid(-0.1 * logits) * eps
    got = sigmoid_loss(PC, PR, RC, RR, beta=0.1, label_smoothing=eps)
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-15)


def test_bco_pair_reward_shift_is_trl_0_28_running_mean(x64):
    # trl 0.28.0: DPOTrainer.dpo_loss lines 1181-1191 and RunningMoments.update in
    # trl/trainer/utils.py lines 196-221, which sees one scalar (the batch-mean reward) per call
    beta, trl_mean, trl_count, state = 0.1, 0.0, 1e-24, BCORewardShift()
    for shift in (0.0, 3.0):
        pc, pr = PC + shift, PR - 2 * shift
        chosen_rewards, rejected_rewards = beta * (pc - RC), beta * (pr - RR)
        batch_mean = np.concatenate([chosen_rewards, rejected_rewards]).mean()
        trl_count += 1
        trl_mean += (batch_mean - trl_mean) / trl_count
        expected = -trl_logsigmoid(chosen_rewards - trl_mean) - trl_logsigmoid(
            -(rejected_rewards - trl_mean)
        )
        state = update_bco_reward_shift(state, *implicit_rewards(pc, pr, RC, RR, beta=beta))
        got = bco_pair_loss(pc, pr, RC, RR, beta=beta, reward_shift=state.mean)
        np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-15)
    # after two batches the shift is the mean of the two batch means, by hand
    means = [np.mean([*(beta * (PC - RC)), *(beta * (PR - RR))])]
    means.append(np.mean([*(beta * (PC + 3 - RC)), *(beta * (PR - 6 - RR))]))
    np.testing.assert_allclose(state.mean, np.mean(means), rtol=1e-15)
    assert float(state.count) == 2.0
    grad = jax.grad(lambda s: bco_pair_loss(PC, PR, RC, RR, beta=beta, reward_shift=s).sum())(1.0)
    assert float(grad) == 0.0  # TRL detaches the shift


def test_f_divergence_scores_by_hand(x64):
    h = jnp.array([0.0, math.log(2.0), -math.log(4.0)])  # u = 1, 2, 1/4
    np.testing.assert_array_equal(f_divergence_score(h), h)
    np.testing.assert_allclose(f_divergence_score(h, "forward_kl"), [0.0, 0.5, -3.0], atol=1e-15)
    js = [0.0, math.log(4 / 3), math.log(2 / 5)]  # log(2u / (1 + u))
    np.testing.assert_allclose(f_divergence_score(h, "js_divergence"), js, rtol=1e-15, atol=1e-16)
    # alpha 0.5: (u^-0.5 - 1) / -0.5; alpha 1 is the limit, reverse KL
    alpha = [0.0, 2 - math.sqrt(2.0), -2.0]
    np.testing.assert_allclose(f_divergence_score(h, "alpha_divergence"), alpha, rtol=1e-15)
    np.testing.assert_array_equal(f_divergence_score(h, "alpha_divergence", 1.0), h)
    with pytest.raises(ValueError, match="f_divergence_type must be one of"):
        f_divergence_score(h, "kl")


# ---------------------------------------------------------------- weighted combinations


def test_combination_is_the_weighted_sum_and_its_mean_is_trls_loss(x64):
    # MPO, TRL's example: loss_type ["sigmoid", "bco_pair", "sft"], loss_weights [0.8, 0.2, 1.0];
    # TRL 1.16 adds per_sequence_loss.mean() * loss_weight (dpo_trainer.py line 1528)
    case = TRL_CASES["mixed"]
    summed = _summed(case)
    mpo = combined_preference_loss(["sigmoid", "bco_pair", "sft"], [0.8, 0.2, 1.0])
    got = mpo(*summed, beta=0.1, chosen_lengths=case["mc"].sum(1))
    expected = sum(
        w * trl_loss(name, case, 0.1).mean()
        for name, w in (("sigmoid", 0.8), ("bco_pair", 0.2), ("sft", 1.0))
    )
    np.testing.assert_allclose(got.mean(), expected, rtol=1e-14)
    parts = [get_preference_loss(n)(*summed, beta=0.1) for n in ("sigmoid", "bco_pair")]
    sft = get_preference_loss("sft")(*summed, beta=0.1, chosen_lengths=case["mc"].sum(1))
    np.testing.assert_array_equal(got, 0.8 * parts[0] + 0.2 * parts[1] + 1.0 * sft)
    jitted = jax.jit(lambda *a: mpo(*a, beta=0.1, chosen_lengths=case["mc"].sum(1)))(*summed)
    np.testing.assert_allclose(jitted, got, rtol=1e-15)


def test_combination_routes_keywords_like_trl(x64):
    # TRL 1.16's ["sigmoid", "robust"] with label_smoothing 0.2 smooths robust only
    case = TRL_CASES["mixed"]
    summed = _summed(case)
    trl_like = combined_preference_loss(
        ["dpo", "robust"], loss_kwargs={"robust": {"label_smoothing": 0.2}}
    )
    expected = trl_loss("sigmoid", case, 0.1) + trl_loss("robust", case, 0.1, 0.2)
    np.testing.assert_allclose(trl_like(*summed, beta=0.1), expected, rtol=1e-14)
    # a shared keyword reaches every loss that takes it (here the conservative sigmoid too)
    shared = combined_preference_loss(["sigmoid", "robust"])(*summed, beta=0.1, label_smoothing=0.2)
    conservative = sigmoid_loss(*summed, beta=0.1, label_smoothing=0.2)
    np.testing.assert_array_equal(
        shared, conservative + robust_loss(*summed, beta=0.1, label_smoothing=0.2)
    )
    # f-divergences: TRL's allowed set, sft included (it ignores the scores)
    fwd = combined_preference_loss(["hinge", "sft"], [2.0, 0.5])
    got = fwd(
        *summed,
        beta=0.1,
        chosen_lengths=case["mc"].sum(1),
        f_divergence_type="forward_kl",
        f_alpha_divergence_coef=0.3,
    )
    expected = 2.0 * trl_loss("hinge", case, 0.1, f_type="forward_kl")
    expected += 0.5 * trl_loss("sft", case, 0.1, f_type="forward_kl")
    np.testing.assert_allclose(got, expected, rtol=1e-14)


def test_combination_rejects_what_trl_rejects():
    nca = combined_preference_loss(["nca_pair"])(
        PC, PR, RC, RR, beta=0.1, f_divergence_type="reverse_kl"
    )
    np.testing.assert_array_equal(nca, get_preference_loss("nca_pair")(PC, PR, RC, RR, beta=0.1))
    with pytest.raises(ValueError, match="only supported for"):
        combined_preference_loss(["sigmoid", "nca_pair"])(
            PC, PR, RC, RR, beta=0.1, f_divergence_type="js_divergence"
        )
    with pytest.raises(TypeError, match="tau"):
        combined_preference_loss(["sigmoid", "hinge"])(PC, PR, RC, RR, beta=0.1, tau=0.5)
    with pytest.raises(ValueError, match="one weight per loss type"):
        combined_preference_loss(["sigmoid", "hinge"], [1.0])
    with pytest.raises(ValueError, match="one weight per loss type"):
        combined_preference_loss([])
    with pytest.raises(ValueError, match="not in loss_types"):
        combined_preference_loss(["sigmoid"], loss_kwargs={"robust": {}})
    with pytest.raises(ValueError, match="unknown preference loss 'kto'"):
        combined_preference_loss(["sigmoid", "kto"])


def test_f_divergence_is_a_keyword_of_exactly_trls_losses():
    for name, loss in PREFERENCE_LOSSES.items():
        takes = "f_divergence_type" in inspect.signature(loss).parameters
        assert takes == (name in F_DIVERGENCE_LOSSES - {"sft"}), name


# ---------------------------------------------------------------- -inf log-probabilities


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("sigmoid", {}),
        ("sigmoid", {"label_smoothing": 0.1}),
        ("sigmoid", {"label_smoothing": 1.0}),
        ("robust", {}),
        ("robust", {"label_smoothing": 0.2}),
        ("exo_pair", {}),
        ("exo_pair", {"label_smoothing": 0.1}),
        ("discopop", {}),
        ("aot", {}),
        ("aot_unpaired", {"label_smoothing": 0.1}),
    ],
)
def test_minus_inf_log_probabilities_give_no_nan(x64, name, kwargs):
    loss = get_preference_loss(name)
    finite = np.array([-2.0, -1.0, -3.0])
    for position in range(4):  # -inf in each of the four inputs, in pair 0
        args = [finite.copy() for _ in range(4)]
        args[position][0] = -np.inf
        value = loss(*args, beta=0.1, **kwargs)
        grads = jax.grad(lambda *a: loss(*a, beta=0.1, **kwargs).sum(), argnums=(0, 1, 2, 3))(
            *map(jnp.asarray, args)
        )
        assert not bool(jnp.isnan(value).any()), (name, position)
        assert all(not bool(jnp.isnan(g).any()) for g in grads), (name, position)


def test_minus_inf_limits_by_hand(x64):
    zero, inf = jnp.zeros(1), jnp.full(1, -jnp.inf)
    # rejected impossible under the policy: x = +inf; chosen impossible: x = -inf
    assert float(sigmoid_loss(zero, inf, zero, zero, beta=0.1)[0]) == 0.0
    assert float(sigmoid_loss(inf, zero, zero, zero, beta=0.1)[0]) == np.inf
    assert float(sigmoid_loss(zero, inf, zero, zero, beta=0.1, label_smoothing=0.1)[0]) == np.inf
    assert float(robust_loss(zero, inf, zero, zero, beta=0.1)[0]) == 0.0
    assert float(robust_loss(zero, inf, zero, zero, beta=0.1, label_smoothing=0.2)[0]) == -np.inf
    np.testing.assert_allclose(exo_pair_loss(zero, inf, zero, zero, beta=0.1), -np.log1p(-1e-3))
    np.testing.assert_allclose(exo_pair_loss(inf, zero, zero, zero, beta=0.1), -np.log(1e-3))
    assert float(discopop_loss(zero, inf, zero, zero, beta=0.1)[0]) == 0.0
    assert float(discopop_loss(inf, zero, zero, zero, beta=0.1)[0]) == np.inf


def test_discopop_stays_finite_below_minus_88_in_float32():
    # TRL's exp(-x) * sigma(x / tau) is inf * 0 = NaN there
    x = jnp.array([-88.0, -89.0, -100.0, -1e4], jnp.float32)
    zeros = jnp.zeros_like(x)
    value = discopop_loss(x, zeros, zeros, zeros, beta=1.0)
    assert value.dtype == jnp.float32
    np.testing.assert_allclose(value, -x, rtol=1e-6)  # the logistic part, softplus(-x) ~ -x


def test_length_and_divergence_arguments_are_checked():
    with pytest.raises(ValueError, match="chosen_lengths"):
        get_preference_loss("ipo")(PC, PR, RC, RR, beta=0.1, chosen_lengths=np.ones(4))
    with pytest.raises(ValueError, match="rejected_lengths"):
        get_preference_loss("sigmoid_norm")(PC, PR, RC, RR, beta=0.1, rejected_lengths=np.ones(4))
    with pytest.raises(ValueError, match="chosen_lengths"):
        get_preference_loss("sft")(PC, PR, RC, RR, beta=0.1, chosen_lengths=np.ones((5, 1)))
    with pytest.raises(ValueError, match="f_divergence_type"):
        sigmoid_loss(PC, PR, RC, RR, beta=0.1, f_divergence_type="reverse-kl")
