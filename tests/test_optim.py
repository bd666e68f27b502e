"""jaxopt_lab.optim against float64 numpy references written from the papers and reference code."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxopt_lab import optim

SHAPES = {"conv": (3, 2, 2, 2), "mat": (4, 6), "vec": (5,)}


def _params(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=s) for k, s in SHAPES.items()}


def _grads(params: dict, t: int, kind: str = "free") -> dict[str, np.ndarray]:
    """Step-t gradients; for ndim > 1 ``kind`` sets which AdamP view sees a small cosine."""
    rng = np.random.default_rng(100 + t)
    out = {}
    for k, p in params.items():
        r = rng.normal(size=p.shape)
        if p.ndim == 1 or kind == "free":
            out[k] = r
        elif kind == "none":  # aligned with p: no view fires
            out[k] = p + 0.1 * r
        elif kind == "channel":  # orthogonal to p row by row
            P, R = p.reshape(p.shape[0], -1), r.reshape(p.shape[0], -1)
            out[k] = (
                R - P * (R * P).sum(1, keepdims=True) / (P * P).sum(1, keepdims=True)
            ).reshape(p.shape)
        else:  # "layer": +-p per row, orthogonal to p only as a whole
            sign = np.where(np.arange(p.shape[0]) % 2 == 0, 1.0, -1.0).reshape(
                -1, *[1] * (p.ndim - 1)
            )
            g = sign * p + 0.1 * r
            out[k] = g - p * (g * p).sum() / (p * p).sum()
    return out


# ---------------------------------------------------------------- numpy references


def _np_caution(u, g):
    phi = (u * g > 0).astype(np.float64)
    return u * phi / max(phi.mean(), 1e-3)


def ref_adamw(lr, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, caution=False):
    def step(p, g, s, t):
        s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0) + (1 - b2) * g * g
        u = s["m"] / (1 - b1**t) / (np.sqrt(s["v"] / (1 - b2**t)) + eps)
        if caution:
            u = _np_caution(u, g)
        return p * (1 - lr * wd) - lr * u

    return step


def ref_lion(lr, b1=0.9, b2=0.99, wd=0.0, caution=False):
    def step(p, g, s, t):
        m = s.get("m", 0)
        u = np.sign(b1 * m + (1 - b1) * g)
        if caution:
            u = _np_caution(u, g)
        s["m"] = b2 * m + (1 - b2) * g
        return p * (1 - lr * wd) - lr * u

    return step


def _np_project(p, g, d, delta, wd_ratio, eps, fired):
    """Torch AdamP's ``_projection``, one view after the other."""
    if p.ndim <= 1:
        return d, 1.0
    for name, rows in (("channel", p.shape[0]), ("layer", 1)):
        P, G, D = (x.reshape(rows, -1) for x in (p, g, d))
        nP, nG = np.linalg.norm(P, axis=1), np.linalg.norm(G, axis=1)
        cos = np.abs((G * P).sum(1) / (np.maximum(nG, eps) * np.maximum(nP, eps)))
        if cos.max() < delta / np.sqrt(P.shape[1]):
            pn = P / (nP[:, None] + eps)
            fired.append(name)
            return (D - pn * (pn * D).sum(1, keepdims=True)).reshape(p.shape), wd_ratio
    fired.append(None)
    return d, 1.0


def ref_adamp(
    lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0, delta=0.1, wd_ratio=0.1, nesterov=False
):
    def step(p, g, s, t):
        s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0) + (1 - b2) * g * g
        denom = np.sqrt(s["v"]) / np.sqrt(1 - b2**t) + eps
        d = (b1 * s["m"] + (1 - b1) * g if nesterov else s["m"]) / denom
        d, r = _np_project(p, g, d, delta, wd_ratio, eps, s.setdefault("fired", []))
        return p * (1 - lr * weight_decay * r) - lr / (1 - b1**t) * d

    return step


def ref_sgdp(
    lr,
    momentum=0.0,
    dampening=0.0,
    weight_decay=0.0,
    nesterov=False,
    eps=1e-8,
    delta=0.1,
    wd_ratio=0.1,
    project_momentum_buffer=True,
):
    """clovaai's ``SGDP.step``: without nesterov ``d_p`` is the buffer, projected in place."""

    def step(p, g, s, t):
        s["buf"] = momentum * s.get("buf", 0) + (1 - dampening) * g
        d = g + momentum * s["buf"] if nesterov else s["buf"]
        d, r = _np_project(p, g, d, delta, wd_ratio, eps, s.setdefault("fired", []))
        if project_momentum_buffer and not nesterov:
            s["buf"] = d
        return p * (1 - lr * weight_decay * r / (1 - momentum)) - lr * d

    return step


def run_ref(step, params, steps=3, kind="free", grads_at=None):
    """Apply a per-tensor numpy ``step`` (``grads_at`` replaces the gradient, e.g. for SAM)."""
    states = {k: {} for k in params}
    traj = []
    for t in range(1, steps + 1):
        grads = _grads(params, t, kind)
        if grads_at is not None:
            grads = grads_at(params, grads)
        params = {k: step(params[k], grads[k], states[k], t) for k in params}
        traj.append(params)
    return traj, states


def run_opt(opt, params, steps=3, kind="free", **extra):
    update = jax.jit(lambda g, s, p: opt.update(g, s, p, **extra))
    params = jax.tree.map(jnp.asarray, params)
    state = opt.init(params)
    traj = []
    for t in range(1, steps + 1):
        grads = jax.tree.map(jnp.asarray, _grads(jax.tree.map(np.asarray, params), t, kind))
        updates, state = update(grads, state, params)
        params = optax.apply_updates(params, updates)
        traj.append(jax.tree.map(np.asarray, params))
    return traj


def assert_traj_close(traj, ref, rtol=1e-11):
    for ours, theirs in zip(traj, ref, strict=True):
        for k in theirs:
            np.testing.assert_allclose(ours[k], theirs[k], rtol=rtol, atol=1e-13, err_msg=k)


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


# ---------------------------------------------------------------- reference steps


@pytest.mark.parametrize(
    ("opt", "ref"),
    [
        (lambda: optim.adam(1e-2), lambda: ref_adamw(1e-2)),
        (lambda: optim.adamw(1e-2), lambda: ref_adamw(1e-2, wd=1e-2)),
        (lambda: optim.lion(1e-2, weight_decay=0.3), lambda: ref_lion(1e-2, wd=0.3)),
        (lambda: optim.cautious_adamw(1e-2), lambda: ref_adamw(1e-2, wd=1e-2, caution=True)),
        (
            lambda: optim.cautious_lion(1e-2, 0.8, 0.9, 0.5),
            lambda: ref_lion(1e-2, 0.8, 0.9, 0.5, True),
        ),
    ],
    ids=["adam", "adamw", "lion", "cautious_adamw", "cautious_lion"],
)
def test_reference_steps(x64, opt, ref):
    params = _params()
    assert_traj_close(run_opt(opt(), params), run_ref(ref(), params)[0])


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("kind", ["none", "channel", "layer"])
def test_adamp_reference(x64, kind, nesterov):
    params = _params()
    kw = dict(weight_decay=0.5, nesterov=nesterov)
    ref, states = run_ref(ref_adamp(0.05, **kw), params, kind=kind)
    assert (
        states["conv"]["fired"][0]
        == states["mat"]["fired"][0]
        == (None if kind == "none" else kind)
    )
    assert_traj_close(run_opt(optim.adamp(0.05, **kw), params, kind=kind), ref)


@pytest.mark.parametrize(
    "kw",
    [
        dict(weight_decay=0.5),
        dict(momentum=0.9, nesterov=True, weight_decay=0.5),
        dict(momentum=0.5, dampening=0.3, weight_decay=0.2, delta=0.2, wd_ratio=0.3),
        dict(momentum=0.9, weight_decay=0.2),
        dict(momentum=0.9, weight_decay=0.2, project_momentum_buffer=False),
    ],
    ids=["plain", "nesterov", "dampening", "momentum", "unprojected-buffer"],
)
@pytest.mark.parametrize("kind", ["none", "channel", "layer"])
def test_sgdp_reference(x64, kind, kw):
    params = _params()
    ref, states = run_ref(ref_sgdp(0.05, **kw), params, kind=kind)
    assert states["mat"]["fired"][0] == (None if kind == "none" else kind)
    assert_traj_close(run_opt(optim.sgdp(0.05, **kw), params, kind=kind), ref)


def test_sgdp_projects_its_momentum_buffer_hand_derived(x64):
    """Three steps of clovaai's SGDP (momentum 0.9, lr 0.1, eps 0) on a 1 x 2 weight whose
    gradient is always orthogonal to it, ``g = (-p_1, p_0)``: the cosine is 0, so the channel
    view (the whole row) fires at every step and ``proj(d) = d - p (p.d) / |p|^2``."""

    def rotate(p):
        return np.array([-p[1], p[0]])

    def project(p, d):
        return d - p * (p @ d) / (p @ p)

    # step 1: buf = g = (-4, 3) is orthogonal to p = (3, 4): nothing to remove
    p0 = np.array([3.0, 4.0])
    buf1 = rotate(p0)
    np.testing.assert_array_equal(project(p0, buf1), [-4.0, 3.0])
    p1 = p0 - 0.1 * buf1
    np.testing.assert_allclose(p1, [3.4, 3.7], rtol=1e-15)
    # step 2: buf = 0.9 (-4, 3) + (-3.7, 3.4) = (-7.3, 6.1), radial part p1.buf / |p1|^2 =
    # -2.25 / 25.25 = -9/101; clovaai's in-place projection leaves the projected buffer behind
    buf2 = 0.9 * buf1 + rotate(p1)
    np.testing.assert_allclose(buf2, [-7.3, 6.1], rtol=1e-15)
    projected2 = project(p1, buf2)
    np.testing.assert_allclose(projected2, np.array([-706.7, 649.4]) / 101, rtol=1e-14)
    p2 = p1 - 0.1 * projected2
    np.testing.assert_allclose(p2, np.array([414.07, 308.76]) / 101, rtol=1e-14)
    # step 3 from the projected buffer (reference) and from the unprojected one (the option)
    p3 = {}
    for name, carried in (("reference", projected2), ("copy", buf2)):
        buf3 = 0.9 * carried + rotate(p2)
        p3[name] = p2 - 0.1 * project(p2, buf3)
    # by hand for the reference: buf3 = (-944.79, 998.53) / 101, p2.buf3 / |p2|^2 =
    # -82903.0725 / 266786.7025
    c = -82903.0725 / 266786.7025
    by_hand = (np.array([414.07, 308.76]) * (1 + 0.1 * c) - 0.1 * np.array([-944.79, 998.53])) / 101
    np.testing.assert_allclose(p3["reference"], by_hand, rtol=1e-13)
    assert np.abs(p3["reference"] - p3["copy"]).max() > 4e-3

    for option, expected in ((True, p3["reference"]), (False, p3["copy"])):
        opt = optim.sgdp(0.1, momentum=0.9, eps=0.0, project_momentum_buffer=option)
        params = {"w": jnp.array([[3.0, 4.0]])}
        state = opt.init(params)
        trajectory = []
        for _ in range(3):
            w = params["w"][0]
            grads = {"w": jnp.stack([-w[1], w[0]])[None]}
            updates, state = opt.update(grads, state, params)
            params = optax.apply_updates(params, updates)
            trajectory.append(np.asarray(params["w"][0]))
            if len(trajectory) == 2:
                carried = projected2 if option else buf2
                np.testing.assert_allclose(state[0].momentum_buffer["w"][0], carried, rtol=1e-14)
        np.testing.assert_allclose(trajectory[:2], [p1, p2], rtol=1e-14)
        np.testing.assert_allclose(trajectory[2], expected, rtol=1e-14)


def _quadratic(seed: int = 1):
    """A quadratic loss on ``SHAPES``: its numpy gradient and its JAX gradient function."""
    rng = np.random.default_rng(seed)
    a = {k: rng.uniform(0.5, 2.0, size=s) for k, s in SHAPES.items()}
    b = {k: rng.normal(size=s) for k, s in SHAPES.items()}

    def np_grad(p):
        return {k: a[k] * p[k] + b[k] for k in p}

    def loss(p):
        return sum(jnp.sum(0.5 * a[k] * p[k] ** 2 + b[k] * p[k]) for k in p)

    return np_grad, jax.grad(loss)


@pytest.mark.parametrize(("adaptive", "rho"), [(False, 0.05), (True, 2.0)], ids=["sam", "asam"])
def test_sam_reference(x64, adaptive, rho):
    np_grad, grad_fn = _quadratic()
    step = ref_adamw(1e-2, wd=1e-2)
    params, states = _params(), {k: {} for k in SHAPES}
    opt = optim.sam(optim.adamw(1e-2), rho=rho, adaptive=adaptive)
    update = jax.jit(lambda g, s, p: opt.update(g, s, p, grad_fn=grad_fn))
    ours = jax.tree.map(jnp.asarray, params)
    state = opt.init(ours)
    for t in range(1, 4):
        g = np_grad(params)
        w = {k: params[k] ** 2 if adaptive else 1.0 for k in g}
        norm = np.sqrt(sum(np.sum((np.sqrt(w[k]) * g[k]) ** 2) for k in g))
        g_adv = np_grad({k: params[k] + rho * w[k] * g[k] / (norm + 1e-12) for k in g})
        params = {k: step(params[k], g_adv[k], states[k], t) for k in params}
        updates, state = update(grad_fn(ours), state, ours)
        ours = optax.apply_updates(ours, updates)
        assert_traj_close([ours], [params])


# ---------------------------------------------------------------- identities


def test_cautious_with_agreeing_direction_is_the_direction(x64):
    g = jax.tree.map(jnp.asarray, _grads(_params(), 1))
    for direction in (optax.identity(), optax.scale_by_adam(), optax.scale_by_lion()):
        masked = optim.cautious(direction)
        u, _ = masked.update(g, masked.init(g), g)
        v, _ = direction.update(g, direction.init(g), g)
        jax.tree.map(np.testing.assert_array_equal, u, v)
    assert optim.scale_by_cautious is optim.cautious


def test_scale_by_cautious_adam_is_cautious_adam(x64):
    """Reading the agreement off the first moment changes nothing: same steps to rounding."""
    kw = dict(b1=0.8, b2=0.9, eps=1e-6)
    fast, generic = optim.scale_by_cautious_adam(**kw), optim.cautious(optax.scale_by_adam(**kw))
    assert_traj_close(
        run_opt(optax.chain(fast, optax.scale(-0.05)), _params()),
        run_opt(optax.chain(generic, optax.scale(-0.05)), _params()),
        rtol=1e-13,
    )
    zero = {"w": jnp.zeros((2, 3))}  # no agreement at all: a zero step, not a NaN
    u, state = fast.update(zero, fast.init(zero), zero)
    np.testing.assert_array_equal(u["w"], 0.0)
    assert isinstance(state, optax.ScaleByAdamState)


def test_adamp_on_vectors_is_adamw(x64):
    params = {"a": _params()["vec"], "b": np.arange(3.0)}
    kw = dict(b1=0.8, b2=0.9, eps=1e-6, weight_decay=0.3)
    assert_traj_close(
        run_opt(optim.adamp(0.05, **kw), params), run_opt(optax.adamw(0.05, **kw), params)
    )


@pytest.mark.parametrize(
    "base", [optax.sgd(0.1), optim.cautious_adamw(1e-2)], ids=["sgd", "c-adamw"]
)
def test_sam_rho0_is_base(x64, base):
    _, grad_fn = _quadratic()
    opt = optim.sam(base, rho=0.0)
    p = q = jax.tree.map(jnp.asarray, _params())
    s, r = opt.init(p), base.init(q)
    for _ in range(3):
        u, s = opt.update(grad_fn(p), s, p, grad_fn=grad_fn)
        v, r = base.update(grad_fn(q), r, q)
        p, q = optax.apply_updates(p, u), optax.apply_updates(q, v)
        jax.tree.map(np.testing.assert_array_equal, p, q)


# ---------------------------------------------------------------- composition


SAM_GRAD = _quadratic()[1]
FACTORIES = {
    "adam": (optim.adam, {}),
    "adamw": (optim.adamw, {}),
    "lion": (optim.lion, dict(weight_decay=0.1)),
    "adamp": (optim.adamp, dict(weight_decay=0.1)),
    "sgdp": (optim.sgdp, dict(momentum=0.9, nesterov=True, weight_decay=0.1)),
    "cautious_adamw": (optim.cautious_adamw, {}),
    "cautious_lion": (optim.cautious_lion, dict(weight_decay=0.1)),
    "sam": (lambda learning_rate: optim.sam(optim.cautious_adamw(learning_rate)), {}),
}


@pytest.mark.parametrize("name", list(FACTORIES))
def test_inject_hyperparams_matches_fixed(x64, name):
    fn, kw = FACTORIES[name]
    injected = optax.inject_hyperparams(fn)(learning_rate=0.05, **kw)
    params = _params()
    assert_traj_close(
        run_opt(injected, params, grad_fn=SAM_GRAD),
        run_opt(fn(learning_rate=0.05, **kw), params, grad_fn=SAM_GRAD),
        rtol=1e-12,
    )


@pytest.mark.parametrize("name", ["adamp", "cautious_lion", "sam"])
def test_vmap_over_traced_learning_rate(name):
    fn, kw = FACTORIES[name]
    params = jax.tree.map(jnp.asarray, _params())
    grads = jax.tree.map(jnp.asarray, _grads(_params(), 1, "channel"))

    def two_steps(lr):
        opt = optax.inject_hyperparams(fn)(learning_rate=lr, **kw)
        p, s = params, opt.init(params)
        for _ in range(2):
            u, s = opt.update(grads, s, p, grad_fn=SAM_GRAD)
            p = optax.apply_updates(p, u)
        return p

    lrs = jnp.array([1e-3, 1e-2, 1e-1])
    batched = jax.jit(jax.vmap(two_steps))(lrs)
    for i, lr in enumerate(lrs):
        jax.tree.map(
            lambda b, s, i=i: np.testing.assert_allclose(b[i], s, rtol=1e-5, atol=1e-6),
            batched,
            two_steps(lr),
        )


def test_multisteps_and_chain(x64):
    params = jax.tree.map(jnp.asarray, _params())
    gs = [jax.tree.map(jnp.asarray, _grads(_params(), t)) for t in range(4)]
    acc = optax.MultiSteps(optim.adamp(0.05, weight_decay=0.1), every_k_schedule=2)
    opt = optim.adamp(0.05, weight_decay=0.1)
    p, s = params, acc.init(params)
    for g in gs:
        u, s = acc.update(g, s, p)
        p = optax.apply_updates(p, u)
    q, r = params, opt.init(params)
    for g1, g2 in (gs[:2], gs[2:]):
        u, r = opt.update(jax.tree.map(lambda a, b: (a + b) / 2, g1, g2), r, q)
        q = optax.apply_updates(q, u)
    # MultiSteps averages with a running mean: equal up to rounding.
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), p, q)

    chained = optax.chain(optax.clip_by_global_norm(0.5), optim.cautious_lion(0.05))
    clipped, _ = optax.clip_by_global_norm(0.5).update(gs[0], optax.EmptyState())
    u, _ = chained.update(gs[0], chained.init(params), params)
    v, _ = optim.cautious_lion(0.05).update(clipped, optim.cautious_lion(0.05).init(params), params)
    jax.tree.map(np.testing.assert_array_equal, u, v)


@pytest.mark.parametrize("dtype", ["bfloat16", "zeros"])
@pytest.mark.parametrize("name", list(FACTORIES))
def test_compiles_once_keeps_dtype_and_stays_finite(name, dtype):
    fn, kw = FACTORIES[name]
    opt = fn(learning_rate=1e-2, **kw)
    if dtype == "zeros":
        params = {k: jnp.zeros(s) for k, s in SHAPES.items()}
        grads = params
    else:
        params = {k: jnp.asarray(v, jnp.bfloat16) for k, v in _params().items()}
        grads = {k: jnp.asarray(v, jnp.bfloat16) for k, v in _grads(_params(), 1).items()}
    traces = []

    @jax.jit
    def step(p, s):
        traces.append(1)
        u, s = opt.update(grads, s, p, grad_fn=lambda q: grads)
        return optax.apply_updates(p, u), s, u

    s0 = opt.init(params)
    p, s, u = step(params, s0)
    p, s, u = step(p, s)
    assert len(traces) == 1
    assert jax.tree.map(lambda x: x.dtype, s) == jax.tree.map(lambda x: x.dtype, s0)
    for k in SHAPES:
        assert u[k].dtype == p[k].dtype == params[k].dtype
        assert np.isfinite(np.asarray(p[k], np.float32)).all()


# ---------------------------------------------------------------- convergence


def _parabola(x):
    return jnp.sum(jnp.square(x - 1.0))


def _rosenbrock(x):
    return jnp.square(1.0 - x[0]) + 100.0 * jnp.square(x[1] - x[0] ** 2)


CONVERGENCE = {
    "adam": optim.adam(1e-2),
    "adamw": optim.adamw(1e-2, weight_decay=0.0),
    "lion": optim.lion(1e-3),
    "adamp": optim.adamp(1e-2),
    "sgdp": optim.sgdp(1e-3, momentum=0.9),
    "cautious_adamw": optim.cautious_adamw(1e-2, weight_decay=0.0),
    "cautious_lion": optim.cautious_lion(1e-3),
    "asam": optim.sam(optim.adam(1e-2), rho=1e-3, adaptive=True),
}


@pytest.mark.parametrize("name", list(CONVERGENCE))
def test_convergence(name):
    opt = CONVERGENCE[name]

    @jax.jit
    def minimise(x):
        def body(carry, _):
            x, s = carry
            g = grad_fn(x)
            u, s = opt.update(g, s, x, grad_fn=grad_fn)
            return (optax.apply_updates(x, u), s), None

        return jax.lax.scan(body, (x, opt.init(x)), length=5000)[0][0]

    for loss, x0 in ((_parabola, jnp.zeros((2, 3))), (_rosenbrock, jnp.zeros(2))):
        grad_fn = jax.grad(loss)
        np.testing.assert_allclose(
            minimise(x0), jnp.ones_like(x0), atol=1e-2, err_msg=loss.__name__
        )


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: optim.adam(-1e-3), "learning_rate must be >= 0, got -0.001"),
        (lambda: optim.adamw(1e-3, b1=1.0), "b1 must be in \\[0, 1\\), got 1.0"),
        (lambda: optim.lion(1e-3, b2=-0.1), "b2 must be in \\[0, 1\\), got -0.1"),
        (lambda: optim.cautious_adamw(1e-3, b2=1.5), "b2 must be"),
        (lambda: optim.scale_by_cautious_adam(b1=-0.1), "b1 must be"),
        (lambda: optim.cautious_lion(-1.0), "learning_rate must be"),
        (lambda: optim.adamp(1e-3, delta=0.0), "delta must be > 0, got 0.0"),
        (lambda: optim.sgdp(1e-3, delta=-0.1), "delta must be > 0"),
        (lambda: optim.sgdp(1e-3, momentum=1.0), "momentum must be in"),
        (lambda: optim.adamp(float("nan")), "learning_rate must be"),
        (lambda: optim.sam(optim.adam(1e-3), rho=-0.05), "rho must be >= 0, got -0.05"),
        (lambda: optim.adam(float("inf")), "learning_rate must be finite, got inf"),
        (lambda: optim.sam(optim.adam(1e-3), rho=float("inf")), "rho must be finite, got inf"),
        (lambda: optim.adamw(1e-3, weight_decay=float("inf")), "weight_decay must be finite"),
        (lambda: optim.lion(jnp.array([1e-3, jnp.inf])), "learning_rate must be finite"),
        (lambda: optax.inject_hyperparams(optim.adamp)(-1e-3).init(jnp.ones(2)), "learning_rate"),
    ],
)
def test_bad_input_raises(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_sam_without_grad_fn_raises():
    opt = optim.sam(optim.adam(1e-3))
    x = jnp.ones(3)
    with pytest.raises(ValueError, match="grad_fn"):
        opt.update(x, opt.init(x), x)
