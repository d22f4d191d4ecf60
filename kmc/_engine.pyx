# cython: boundscheck=False, wraparound=False, initializedcheck=False
"""Thin wrapper over the C engine (csrc/kmc_engine.h): checks and converts arrays,
owns the C state, maps C error codes to Python exceptions. No physics here."""

from libc.math cimport INFINITY
from libc.stdint cimport int32_t, uint64_t
from libc.string cimport memset

import numpy as np

from kmc._cengine cimport (
    KMC_ERR_INVALID, KMC_ERR_NOMEM, KMC_KB_EV_PER_K, KMC_MAX_ATTEMPT_FREQUENCY_HZ, KMC_MAX_DEGREE,
    KMC_MAX_EVENT_MOVES, KMC_MAX_CLUSTER_SITES, KMC_CONFIG_MEMO_MAX_SITES, KMC_CONFIG_MEMO_MAX_BYTES,
    KMC_N_RATE_LAWS, KMC_OK, kmc_engine, kmc_engine_check, kmc_engine_create,
    kmc_engine_errmsg, kmc_engine_free, kmc_engine_get_displacements, kmc_engine_get_state,
    kmc_engine_get_total_displacement,
    kmc_engine_get_layout, kmc_engine_layout, kmc_engine_memory_bytes, kmc_engine_mode, kmc_engine_n_event_types, kmc_engine_n_hop_types,
    kmc_engine_n_ions, kmc_engine_n_sites,
    kmc_engine_run, kmc_engine_run_points, kmc_engine_set_state, kmc_engine_steps, kmc_engine_time,
    kmc_engine_total_rate, kmc_network, kmc_params, kmc_rate_Hz, kmc_rate_law_name, kmc_state,
    kmc_strerror,
)

from kmc import _checks
from kmc.errors import ConfigError, ConfigTypeError, KMCError

STOP_REASONS = ("steps", "time", "frozen", "points")
#: Engine algorithms (kmc_mode): "auto" picks one from the network.
MODES = ("auto", "tree", "count", "uniform")
# The C engine's limits and constants (csrc/kmc_engine.h), from the header itself:
#: at most this many hops start at one site
MAX_DEGREE = KMC_MAX_DEGREE
#: at most this many simultaneous moves in one multi-ion event
MAX_EVENT_MOVES = KMC_MAX_EVENT_MOVES
#: Most sites of a cluster or of a local-model term.
MAX_CLUSTER_SITES = KMC_MAX_CLUSTER_SITES
#: the tree solver remembers whole configurations of interacting systems of at most this many
#: sites (Engine(config_memo=...)), in at most this many bytes
CONFIG_MEMO_MAX_SITES = KMC_CONFIG_MEMO_MAX_SITES
CONFIG_MEMO_MAX_BYTES = KMC_CONFIG_MEMO_MAX_BYTES
#: the largest attempt frequency the engine accepts, Hz
MAX_ATTEMPT_FREQUENCY_HZ = KMC_MAX_ATTEMPT_FREQUENCY_HZ
#: Boltzmann constant the engine uses, eV/K
KB_EV_PER_K = KMC_KB_EV_PER_K
#: The rate laws (kmc_rate_law; index = the C enum value): "kra" is
#: k = nu exp(-max(E_kra + dE/2, 0, dE) / kB T).
RATE_LAWS = tuple(kmc_rate_law_name(i).decode() for i in range(KMC_N_RATE_LAWS))
_UINT64_MAX = 2**64 - 1


def _frozen(arr, given):
    """`arr` (as converted) is the caller's own array `given` and its data cannot change:
    read-only, and a view of a read-only array (whose WRITEABLE flag numpy will not set
    again). The engine may then keep a pointer to it instead of a copy."""
    if arr is not given or arr.flags.writeable or not isinstance(arr.base, np.ndarray):
        return False
    root = arr
    while isinstance(root.base, np.ndarray):
        root = root.base
        if root.flags.writeable:
            return False
    return root.base is None


cdef _raise(int rc, msg):
    if isinstance(msg, bytes):
        msg = msg.decode("utf-8", "replace")
    text = msg or kmc_strerror(rc).decode()
    if rc == KMC_ERR_NOMEM:
        raise MemoryError(text)
    if rc == KMC_ERR_INVALID:
        raise ConfigError(text)
    raise KMCError(f"{kmc_strerror(rc).decode()}: {text}")


def _array(value, name, dtype, shape):
    """The C-contiguous array of `dtype` the engine reads (-1 in `shape`: any length); the
    checks are kmc._checks's, plus the range of the C integer type."""
    arr = _checks.as_numeric(value, name)
    if np.dtype(dtype).kind in "iu" and arr.dtype.kind == "f":
        raise ConfigTypeError(f"{name} must be an integer array, got dtype {arr.dtype}")
    if np.dtype(dtype).kind in "iu" and arr.size and arr.dtype != np.dtype(dtype):
        info = np.iinfo(dtype)  # (an array of the C type itself is in range)
        if arr.min() < info.min or arr.max() > info.max:
            raise ConfigError(f"{name} has values outside the range of {np.dtype(dtype).name}")
    arr = np.ascontiguousarray(arr, dtype=dtype)
    _checks.check_shape(arr, name, tuple(None if s == -1 else s for s in shape))
    return arr


def _finite_float(value, name, positive=False):
    return _checks.real(value, name, lo=0.0 if positive else -INFINITY, lo_open=positive)


def _rate_law_index(rate_law):
    return RATE_LAWS.index(_checks.choice(rate_law, "rate_law", RATE_LAWS))


def rate_Hz(ekra_eV, dE_eV, temperature_K, attempt_frequency_Hz, rate_law="kra"):
    """Hop rates by the engine's rate law, computed by the engine's own C function.

    Parameters
    ----------
    ekra_eV : array_like of float
        KRA barriers E_kra, eV.
    dE_eV : array_like of float
        Energy changes dE of the hops (final minus initial), eV; broadcast against ekra_eV.
    temperature_K : float
        Temperature, K (finite, > 0).
    attempt_frequency_Hz : float
        Attempt frequency nu, Hz (finite, > 0, at most MAX_ATTEMPT_FREQUENCY_HZ).
    rate_law : str
        One of RATE_LAWS. "kra" (default): ``nu * exp(-max(E_kra + dE/2, 0, dE) / (kB T))``
        with kB = KB_EV_PER_K.

    Returns
    -------
    numpy.ndarray
        float64 rates, Hz, of the broadcast shape of ekra_eV and dE_eV (0-d for two
        scalars); bit for bit the rates an engine with these parameters uses for hops or
        events with these (E_kra, dE). NaN inputs give NaN.

    Raises
    ------
    ConfigError
        For an unknown rate law or an invalid temperature or attempt frequency.
    TypeError
        For non-numeric inputs.
    """
    cdef int law = _rate_law_index(rate_law)
    cdef double T = _finite_float(temperature_K, "temperature_K", positive=True)
    cdef double nu = _finite_float(attempt_frequency_Hz, "attempt_frequency_Hz", positive=True)
    cdef int rc
    cdef size_t n
    if nu > MAX_ATTEMPT_FREQUENCY_HZ:
        raise ConfigError(f"attempt_frequency_Hz = {attempt_frequency_Hz!r} is above "
                          f"{MAX_ATTEMPT_FREQUENCY_HZ:g} Hz")
    try:
        a, b = np.broadcast_arrays(np.asarray(ekra_eV), np.asarray(dE_eV))
    except ValueError as exc:
        raise ConfigError(f"ekra_eV and dE_eV do not broadcast together: {exc}") from None
    for arr, name in ((a, "ekra_eV"), (b, "dE_eV")):
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    shape = a.shape
    ekra = np.ascontiguousarray(a, dtype=np.float64).reshape(-1)
    de = np.ascontiguousarray(b, dtype=np.float64).reshape(-1)
    out = np.empty(ekra.shape[0], np.float64)
    cdef const double[::1] v_ekra = ekra
    cdef const double[::1] v_de = de
    cdef double[::1] v_out = out
    n = <size_t>out.shape[0]
    with nogil:
        rc = kmc_rate_Hz(law, T, nu, n, &v_ekra[0] if n else NULL, &v_de[0] if n else NULL,
                         &v_out[0] if n else NULL)
    if rc != KMC_OK:
        raise ConfigError(f"rate_Hz refused temperature_K = {T!r}, attempt_frequency_Hz = "
                          f"{nu!r}, rate_law = {rate_law!r}")
    return out.reshape(shape)


cdef const int32_t *_iptr(const int32_t[::1] a):
    return &a[0] if a.shape[0] > 0 else NULL


cdef const double *_dptr(const double[::1] a):
    return &a[0] if a.shape[0] > 0 else NULL


cdef class Engine:
    """Owns one C engine. Construct with the flat network arrays (CSR by source site).

    Parameters
    ----------
    hop_ptr : (n_sites+1,) int32
        CSR offsets: hops of site s are hop_ptr[s]:hop_ptr[s+1].
    hop_dst, hop_rev, hop_type : (n_hops,) int32
        Destination, index of the reverse hop, hop type.
    hop_vec : (n_hops, 3) float64
        Displacement vectors, Angstrom.
    hop_ekra : (n_hops,) float64
        KRA barriers, eV.
    site_energy : (n_sites,) float64
        Site energies, eV.
    ion_sites : (n_ions,) int32
        Distinct initial sites of the ions.
    n_hop_types : int
    temperature_K, attempt_frequency_Hz, charge_e : float
    field_V_per_A : (3,) float64
        Uniform electric field, V/Angstrom.
    int_ptr, int_nbr, int_J, hop_J : arrays or None
        Symmetric pair-interaction neighbour lists (eV) and J between each hop's ends.
    ev_ptr, ev_src, ev_dst, ev_vec, ev_ekra, ev_type : arrays or None
        Multi-ion events, CSR by event: event v moves the ions on ev_src[ev_ptr[v]:ev_ptr[v+1]]
        to ev_dst[...] by ev_vec[...] (Angstrom) at once, with KRA barrier ev_ekra[v] (eV)
        and type ev_type[v]; the caller includes every event's reverse. ev_ptr, ev_src and
        ev_dst are borrowed, not copied, when they are read-only int32 arrays whose data
        cannot be made writeable again (read-only views of read-only arrays, as an
        EventSet's): the Engine keeps a reference to them, so they live as long as it does.
        An ev_ekra broadcast from one value (stride 0, as np.broadcast_to makes) is read as
        that one value.
    ev_vidx : (n_moves,) int32 or None
        With it, ev_vec is a table of vectors (n_rows, 3) and move m's vector is
        ev_vec[ev_vidx[m]] (e.g. the network's hop of each move): no per-move vectors.
    n_event_types : int
        Number of event types (>= 1 when there are events).
    ev_class, et_ptr, et_k, et_slot, et_vec, et_ekra, et_type : arrays, int or None
        Multi-ion events as templates, string moves along hops (instead of ev_ptr ...;
        without pair interactions, clusters and local models; with either hop form): site s
        has the events et_ptr[c]:et_ptr[c+1] of its event class c = ev_class[s] (int32,
        one per site), in order; template q moves et_k ions along the hop slots
        et_slot[q] (shape (n_templates, et_k): move 0 leaves s by its hop et_slot[q, 0],
        move i leaves the previous move's destination by its hop et_slot[q, i]), with the
        vectors et_vec[q] ((n_templates, et_k, 3), Angstrom), KRA barrier et_ekra[q] (eV)
        and type et_type[q]. The events are numbered site by site; within a class the
        templates are sorted by their slot paths. The engine keeps about 8 bytes per site
        and 9 per event (its sum tree) instead of lists of every event.
    cl_ptr, cl_site, cl_V : arrays or None
        Clusters of 2..4 sites beyond the pairs, CSR by cluster: cluster c is the sites
        cl_site[cl_ptr[c]:cl_ptr[c+1]] with ECI cl_V[c] (eV); the energy is
        sum_c V_c prod n_i (occupation basis).
    lm_e0, lm_phi, lm_tptr, lm_tpos, lm_K, env_ptr, env_site, hop_kra_model, hop_de_model
        Local models of each hop's environment (see kmc_engine.h): model q is
        lm_e0[q] + sum_t lm_K[t] prod_p b_q(n at environment position lm_tpos[t, p]) with
        b_q(0), b_q(1) = lm_phi[q] (n_models, 2); the terms of q are lm_tptr[q]:lm_tptr[q+1],
        lm_tpos is (n_terms, 4) padded with -1. Hop h's environment is
        env_site[env_ptr[h]:env_ptr[h+1]]; model hop_kra_model[h] gives its E_kra (eV; -1:
        hop_ekra[h]) and model hop_de_model[h] is added to its dE (eV; -1: none).
    site_template, tp_ptr, tp_doff, tp_rev, tp_type, tp_vec, tp_ekra : arrays or None
        The compact form of a periodic lattice, instead of the CSR hop arrays (pass None for
        hop_ptr ... hop_ekra): site s has the hops tp_ptr[t]:tp_ptr[t+1] of template
        t = site_template[s] (int32), going to s + tp_doff[h], with the reverse at slot
        tp_rev[h] of the destination's list, type tp_type[h], vector tp_vec[h] (Angstrom)
        and barrier tp_ekra[h] (eV). Events with this form only as event templates.
    ti_ptr, ti_doff, ti_J, tp_J : arrays or None
        Pair interactions of the compact form: a site of template t interacts with the
        sites s + ti_doff[a], a in ti_ptr[t]:ti_ptr[t+1], with energy ti_J[a] (eV); every
        pair listed from both ends with the same J; tp_J[h] is J between the ends of
        template hop h (eV, 0 if they do not interact).
    seed : int
        64-bit RNG seed, 0 <= seed < 2**64.
    mode : str
        The algorithm (see MODES): "auto" (default) chooses uniformization for a network
        without interactions and events whose attempts are mostly accepted, else integer
        count trees when possible, else the float sum tree. All sample the same process;
        a seed reproduces a trajectory within one mode.
    rate_law : str
        How a hop's (or event's) KRA barrier and energy change give its rate, one of
        RATE_LAWS (see rate_Hz): "kra" (default).
    config_memo : bool or "walk"
        Let the tree solver remember whole configurations of a small interacting system
        (at most 64 sites; default True): a configuration met again costs a look-up
        instead of its rates, and its hop is found among its hops' rate intervals by a
        search (where the search cannot be sure to agree, at about 2^-29 per hop, the
        remembered sum tree is walked). The same trajectories either way (False: no
        memo; "walk": the memo, always walking the remembered tree; for tests and
        measurements).
    """

    cdef kmc_engine *_e
    cdef readonly int32_t n_sites
    cdef readonly int32_t n_ions
    cdef readonly int32_t n_hop_types
    cdef readonly int32_t n_event_types
    cdef readonly str rate_law
    cdef object _borrowed  # arrays the C engine reads without a copy: kept alive with it

    def __cinit__(self, hop_ptr, hop_dst, hop_rev, hop_type, hop_vec, hop_ekra, site_energy,
                  ion_sites, *, n_hop_types, temperature_K, attempt_frequency_Hz, charge_e,
                  field_V_per_A=(0.0, 0.0, 0.0), int_ptr=None, int_nbr=None, int_J=None,
                  hop_J=None, ev_ptr=None, ev_src=None, ev_dst=None, ev_vec=None,
                  ev_ekra=None, ev_type=None, n_event_types=0, ev_vidx=None, ev_class=None,
                  et_ptr=None, et_k=0, et_slot=None, et_vec=None, et_ekra=None, et_type=None,
                  site_template=None,
                  tp_ptr=None, tp_doff=None, tp_rev=None, tp_type=None, tp_vec=None,
                  tp_ekra=None, ti_ptr=None, ti_doff=None, ti_J=None, tp_J=None, cl_ptr=None, cl_site=None, cl_V=None, lm_e0=None,
                  lm_phi=None, lm_tptr=None, lm_tpos=None, lm_K=None, env_ptr=None,
                  env_site=None, hop_kra_model=None, hop_de_model=None, seed, mode="auto",
                  rate_law="kra", config_memo=True):
        cdef kmc_network net
        cdef kmc_params par
        cdef int status = 0
        cdef char errbuf[512]
        cdef uint64_t cseed
        cdef int32_t nion
        self._e = NULL
        memset(&net, 0, sizeof(net))
        memset(&par, 0, sizeof(par))
        if site_template is None:
            ptr = _array(hop_ptr, "hop_ptr", np.int32, (-1,))
            if ptr.shape[0] < 2:
                raise ConfigError("hop_ptr must have n_sites + 1 >= 2 entries")
            n = ptr.shape[0] - 1
            dst = _array(hop_dst, "hop_dst", np.int32, (-1,))
            m = dst.shape[0]
            rev = _array(hop_rev, "hop_rev", np.int32, (m,))
            typ = _array(hop_type, "hop_type", np.int32, (m,))
            vec = _array(hop_vec, "hop_vec", np.float64, (m, 3)).reshape(-1)
            ekra = _array(hop_ekra, "hop_ekra", np.float64, (m,))
        else:
            given = [k for k, v in (("hop_ptr", hop_ptr), ("hop_dst", hop_dst),
                                    ("hop_rev", hop_rev), ("hop_type", hop_type),
                                    ("hop_vec", hop_vec), ("hop_ekra", hop_ekra))
                     if v is not None]
            if given:
                raise ConfigError("give the hops either CSR by site or as templates "
                                  f"(site_template), not both (got {', '.join(given)})")
            tmpl = _array(site_template, "site_template", np.int32, (-1,))
            n = tmpl.shape[0]
            if n < 1:
                raise ConfigError("site_template must have n_sites >= 1 entries")
            tptr = _array(tp_ptr, "tp_ptr", np.int32, (-1,))
            n_tp = tptr.shape[0] - 1
            if n_tp < 1 or tptr[0] != 0 or np.any(np.diff(tptr) < 0):
                raise ConfigError("tp_ptr must have n_templates + 1 >= 2 entries, start at 0 "
                                  "and be non-decreasing")
            if tmpl.min() < 0 or tmpl.max() >= n_tp:
                raise ConfigError(f"site_template has values outside 0..{n_tp - 1}")
            mt = int(tptr[n_tp])
            tdoff = _array(tp_doff, "tp_doff", np.int32, (mt,))
            trev = _array(tp_rev, "tp_rev", np.int32, (mt,))
            ttyp = _array(tp_type, "tp_type", np.int32, (mt,))
            tvec = _array(tp_vec, "tp_vec", np.float64, (mt, 3)).reshape(-1)
            tekra = _array(tp_ekra, "tp_ekra", np.float64, (mt,))
            m = int(np.bincount(tmpl, minlength=n_tp) @ np.diff(tptr).astype(np.int64))
            if m > 2**31 - 1:
                raise ConfigError(f"the network has {m} hops; at most 2**31 - 1 are supported")
            net.n_templates = n_tp
            net.site_template = _iptr(tmpl)
            net.tp_ptr = _iptr(tptr)
            net.tp_doff = _iptr(tdoff)
            net.tp_rev = _iptr(trev)
            net.tp_type = _iptr(ttyp)
            net.tp_vec = _dptr(tvec)
            net.tp_ekra = _dptr(tekra)
            if int_ptr is not None:
                raise ConfigError("template networks take their pair interactions as "
                                  "templates (ti_ptr, ti_doff, ti_J, tp_J), not int_ptr")
            if ev_ptr is not None or cl_ptr is not None or lm_e0 is not None:
                raise ConfigError("template networks support neither clusters, local models "
                                  "nor multi-ion events other than event templates (et_ptr)")
            if ti_ptr is not None:
                tiptr = _array(ti_ptr, "ti_ptr", np.int32, (n_tp + 1,))
                if tiptr[0] != 0 or np.any(np.diff(tiptr) < 0):
                    raise ConfigError("ti_ptr must start at 0 and be non-decreasing")
                na = int(tiptr[n_tp])
                tidoff = _array(ti_doff, "ti_doff", np.int32, (na,))
                tiJ = _array(ti_J, "ti_J", np.float64, (na,))
                tpJ = _array(tp_J, "tp_J", np.float64, (mt,))
                if na > 0:
                    net.ti_ptr = _iptr(tiptr)
                    net.ti_doff = _iptr(tidoff)
                    net.ti_J = _dptr(tiJ)
                    net.tp_J = _dptr(tpJ)
        if site_template is None and ti_ptr is not None:
            raise ConfigError("ti_ptr (pair interactions as templates) needs the template "
                              "form (site_template); CSR networks take int_ptr")
        energy = _array(site_energy, "site_energy", np.float64, (n,))
        ions = _array(ion_sites, "ion_sites", np.int32, (-1,))
        field = _array(field_V_per_A, "field_V_per_A", np.float64, (3,))
        if int(n_hop_types) < 1:
            raise ConfigError(f"n_hop_types = {n_hop_types!r} must be >= 1")
        try:
            seed_int = int(seed)
        except (TypeError, ValueError):
            raise TypeError(f"seed must be an integer, got {seed!r}") from None
        if seed_int != seed or not 0 <= seed_int <= _UINT64_MAX:
            raise ConfigError(f"seed = {seed!r} must be an integer in [0, 2**64)")
        cseed = <uint64_t>seed_int
        par.temperature_K = _finite_float(temperature_K, "temperature_K", positive=True)
        par.attempt_frequency_Hz = _finite_float(attempt_frequency_Hz, "attempt_frequency_Hz",
                                                 positive=True)
        par.charge_e = _finite_float(charge_e, "charge_e")
        for d in range(3):
            par.field_V_per_A[d] = field[d]
        if mode not in MODES:
            raise ConfigError(f"mode = {mode!r} must be one of {', '.join(MODES)}")
        par.mode = MODES.index(mode)
        par.rate_law = _rate_law_index(rate_law)
        if not (isinstance(config_memo, (bool, np.bool_)) or
                (isinstance(config_memo, str) and config_memo == "walk")):
            raise ConfigError(f"config_memo = {config_memo!r} must be True, False or 'walk'")
        par.no_config_memo = 0 if config_memo else 1
        par.config_memo_walk = 1 if isinstance(config_memo, str) else 0  # ("walk")

        net.n_sites = n
        net.n_hops = m
        net.n_hop_types = int(n_hop_types)
        if site_template is None:
            net.hop_ptr = _iptr(ptr)
            net.hop_dst = _iptr(dst)
            net.hop_rev = _iptr(rev)
            net.hop_type = _iptr(typ)
            net.hop_vec = _dptr(vec)
            net.hop_ekra = _dptr(ekra)
        net.site_energy = _dptr(energy)
        net.int_ptr = NULL
        net.int_nbr = NULL
        net.int_J = NULL
        net.hop_J = NULL
        if int_ptr is not None:
            iptr = _array(int_ptr, "int_ptr", np.int32, (n + 1,))
            if iptr[0] != 0 or np.any(np.diff(iptr) < 0):
                raise ConfigError("int_ptr must start at 0 and be non-decreasing")
            nbr = _array(int_nbr, "int_nbr", np.int32, (int(iptr[n]),))
            jj = _array(int_J, "int_J", np.float64, (int(iptr[n]),))
            hj = _array(hop_J, "hop_J", np.float64, (m,))
            if iptr[n] > 0:
                net.int_ptr = _iptr(iptr)
                net.int_nbr = _iptr(nbr)
                net.int_J = _dptr(jj)
                net.hop_J = _dptr(hj)
        net.n_events = 0
        net.n_event_types = 0
        net.ev_ptr = NULL
        net.ev_src = NULL
        net.ev_dst = NULL
        net.ev_vec = NULL
        net.ev_ekra = NULL
        net.ev_type = NULL
        if ev_ptr is not None:
            eptr = _array(ev_ptr, "ev_ptr", np.int32, (-1,))
            if eptr.shape[0] < 1 or eptr[0] != 0 or np.any(eptr[1:] <= eptr[:eptr.shape[0] - 1]):
                raise ConfigError("ev_ptr must start at 0 and be increasing")
            n_ev = eptr.shape[0] - 1
            n_mv = int(eptr[n_ev])
            esrc = _array(ev_src, "ev_src", np.int32, (n_mv,))
            edst = _array(ev_dst, "ev_dst", np.int32, (n_mv,))
            if ev_vidx is None:
                evec = _array(ev_vec, "ev_vec", np.float64, (n_mv, 3)).reshape(-1)
            else:
                evidx = _array(ev_vidx, "ev_vidx", np.int32, (n_mv,))
                evec = _array(ev_vec, "ev_vec", np.float64, (-1, 3)).reshape(-1)
            if (isinstance(ev_ekra, np.ndarray) and ev_ekra.shape == (n_ev,) and n_ev > 1
                    and ev_ekra.strides == (0,)):  # one barrier broadcast to every event
                eekra = _array(ev_ekra[:1], "ev_ekra", np.float64, (1,))
                net.ev_ekra_same = 1
            else:
                eekra = _array(ev_ekra, "ev_ekra", np.float64, (n_ev,))
            etype = _array(ev_type, "ev_type", np.int32, (n_ev,))
            if n_ev > 0:
                net.n_events = n_ev
                net.n_event_types = int(n_event_types)
                net.ev_ptr = _iptr(eptr)
                net.ev_src = _iptr(esrc)
                net.ev_dst = _iptr(edst)
                net.ev_vec = _dptr(evec)
                net.ev_ekra = _dptr(eekra)
                net.ev_type = _iptr(etype)
                if ev_vidx is not None:
                    net.ev_vidx = _iptr(evidx)
                    net.n_ev_vecs = evec.shape[0] // 3
                if all(_frozen(a, b) for a, b in ((eptr, ev_ptr), (esrc, ev_src), (edst, ev_dst))):
                    net.ev_borrow = 1  # the engine reads them for its lifetime: keep them
                    self._borrowed = (eptr, esrc, edst)
        if et_ptr is not None:
            if ev_ptr is not None:
                raise ConfigError("give the multi-ion events either as lists (ev_ptr, ...) or "
                                  "as templates (et_ptr, ...), not both")
            k = int(et_k)
            if not 2 <= k <= 4:
                raise ConfigError(f"et_k = {et_k!r} must be 2, 3 or 4")
            etptr = _array(et_ptr, "et_ptr", np.int32, (-1,))
            if etptr.shape[0] < 2 or etptr[0] != 0 or np.any(np.diff(etptr) < 0):
                raise ConfigError("et_ptr must start at 0 and be non-decreasing")
            n_ec = etptr.shape[0] - 1
            n_q = int(etptr[n_ec])
            ecls = _array(ev_class, "ev_class", np.int32, (n,))
            if ecls.size and (ecls.min() < 0 or ecls.max() >= n_ec):
                bad = int(np.flatnonzero((ecls < 0) | (ecls >= n_ec))[0])
                raise ConfigError(f"ev_class[{bad}] = {ecls[bad]} outside 0..{n_ec - 1}")
            n_ev = int(np.diff(etptr).astype(np.int64)[ecls].sum())
            if n_ev > 2**31 - 1:
                raise ConfigError(f"the templates give {n_ev} events; at most 2**31 - 1 are "
                                  "supported")
            eslot = _array(et_slot, "et_slot", np.int32, (n_q, k)).reshape(-1)
            etvec = _array(et_vec, "et_vec", np.float64, (n_q, k, 3)).reshape(-1)
            etekra = _array(et_ekra, "et_ekra", np.float64, (n_q,))
            ettype = _array(et_type, "et_type", np.int32, (n_q,))
            if n_ev > 0:
                net.n_event_types = int(n_event_types)
                net.n_events = n_ev
                net.n_ev_classes = n_ec
                net.ev_class = _iptr(ecls)
                net.et_ptr = _iptr(etptr)
                net.et_k = k
                net.et_slot = _iptr(eslot)
                net.et_vec = _dptr(etvec)
                net.et_ekra = _dptr(etekra)
                net.et_type = _iptr(ettype)
        net.n_clusters = 0
        if cl_ptr is not None:
            cptr = _array(cl_ptr, "cl_ptr", np.int32, (-1,))
            if cptr.shape[0] < 1 or cptr[0] != 0 or np.any(np.diff(cptr) < 0):
                raise ConfigError("cl_ptr must start at 0 and be non-decreasing")
            n_cl = cptr.shape[0] - 1
            csite = _array(cl_site, "cl_site", np.int32, (int(cptr[n_cl]),))
            cV = _array(cl_V, "cl_V", np.float64, (n_cl,))
            if n_cl > 0:
                net.n_clusters = n_cl
                net.cl_ptr = _iptr(cptr)
                net.cl_site = _iptr(csite)
                net.cl_V = _dptr(cV)
        net.n_local_models = 0
        if lm_e0 is not None:
            if site_template is not None:
                raise ConfigError("template networks support no local models")
            le0 = _array(lm_e0, "lm_e0", np.float64, (-1,))
            n_lm = le0.shape[0]
            lphi = _array(lm_phi, "lm_phi", np.float64, (n_lm, 2)).reshape(-1)
            ltptr = _array(lm_tptr, "lm_tptr", np.int32, (n_lm + 1,))
            if ltptr[0] != 0 or np.any(np.diff(ltptr) < 0):
                raise ConfigError("lm_tptr must start at 0 and be non-decreasing")
            n_t = int(ltptr[n_lm])
            ltpos = _array(lm_tpos, "lm_tpos", np.int32, (n_t, 4)).reshape(-1)
            lK = _array(lm_K, "lm_K", np.float64, (n_t,))
            eptr2 = _array(env_ptr, "env_ptr", np.int32, (m + 1,))
            if eptr2[0] != 0 or np.any(np.diff(eptr2) < 0):
                raise ConfigError("env_ptr must start at 0 and be non-decreasing")
            esite = _array(env_site, "env_site", np.int32, (int(eptr2[m]),))
            hkm = _array(hop_kra_model, "hop_kra_model", np.int32, (m,))
            hdm = _array(hop_de_model, "hop_de_model", np.int32, (m,))
            if n_lm > 0:
                net.n_local_models = n_lm
                net.lm_e0 = _dptr(le0)
                net.lm_phi = _dptr(lphi)
                net.lm_tptr = _iptr(ltptr)
                net.lm_tpos = _iptr(ltpos)
                net.lm_K = _dptr(lK)
                net.env_ptr = _iptr(eptr2)
                net.env_site = _iptr(esite)
                net.hop_kra_model = _iptr(hkm)
                net.hop_de_model = _iptr(hdm)
        nion = ions.shape[0]
        cdef const int32_t *ion_ptr = _iptr(ions)
        with nogil:
            self._e = kmc_engine_create(&net, &par, nion, ion_ptr, cseed, &status, errbuf,
                                        sizeof(errbuf))
        if self._e == NULL:
            _raise(status, errbuf)
        self.n_sites = n
        self.n_ions = nion
        self.n_hop_types = int(n_hop_types)
        self.n_event_types = kmc_engine_n_event_types(self._e)
        self.rate_law = rate_law

    def __dealloc__(self):
        if self._e != NULL:
            kmc_engine_free(self._e)
            self._e = NULL

    def run(self, max_steps, t_stop=None):
        """Execute at most `max_steps` events, stopping before the first event after
        `t_stop` (seconds, absolute simulated time; None for no limit).

        Returns
        -------
        (int, str)
            Events executed and why it stopped: "steps", "time" or "frozen" (total rate 0).
        """
        cdef uint64_t done = 0, cmax
        cdef int reason = 0, rc
        cdef double ts = INFINITY
        if int(max_steps) < 0:
            raise ConfigError(f"max_steps = {max_steps!r} must be >= 0")
        cmax = <uint64_t>int(max_steps)
        if t_stop is not None:
            ts = float(t_stop)
        with nogil:
            rc = kmc_engine_run(self._e, cmax, ts, &done, &reason)
        if rc != KMC_OK:
            _raise(rc, kmc_engine_errmsg(self._e))
        return int(done), STOP_REASONS[reason]

    def run_points(self, max_steps, t_stop, t0_s, interval_s, k0, total_out, steps_out,
                   min_hops=0.0, steps0=0):
        """:meth:`run`, also stopping at the points ``t0_s + k * interval_s`` (seconds,
        absolute simulated time; k = k0, k0 + 1, ...) to record there the summed
        displacement of all ions and the events since step `steps0`.

        The events and stops are those of calling :meth:`run` with ``t_stop = min(next
        point, t_stop)`` until each point is reached, recording it there (and a point is
        recorded whenever the time reaches it): the same trajectory, without a return to
        Python at each point.

        Parameters
        ----------
        max_steps : int
            Events to execute at most (over the whole call), >= 0.
        t_stop : float or None
            Absolute simulated time to stop at, s (None for no limit).
        t0_s, interval_s : float
            The points' origin and spacing, s (finite; interval_s > 0).
        k0 : int
            Index of the next point, >= 0.
        total_out : ndarray of float64, shape (m, 3), C-contiguous, writeable
            Receives the summed displacement at each point recorded, Angstrom; at most m
            points are recorded.
        steps_out : ndarray of uint64, shape (m,), C-contiguous, writeable
            Receives ``steps - steps0`` at each point recorded.
        min_hops : float
            Also return after a point where ``interval_s * (steps - steps0) < min_hops *
            (time - t0_s)`` (the points are closer than `min_hops` events apart on average);
            0 for never.
        steps0 : int
            The step count the events in `steps_out` and `min_hops` are counted from.

        Returns
        -------
        (int, str, int)
            Events executed, why it stopped ("steps", "time", "frozen", or "points": m
            points recorded, or the points are denser than `min_hops`), and the number of
            points recorded.
        """
        cdef uint64_t done = 0, n = 0, cmax, ck0, cs0, m
        cdef int reason = 0, rc
        cdef double ts = INFINITY, t0, dt, mh
        if int(max_steps) < 0:
            raise ConfigError(f"max_steps = {max_steps!r} must be >= 0")
        if int(k0) < 0:
            raise ConfigError(f"k0 = {k0!r} must be >= 0")
        if int(steps0) < 0 or int(steps0) > self.steps:
            raise ConfigError(f"steps0 = {steps0!r} must be >= 0 and at most the engine's "
                              f"steps ({self.steps})")
        cmax, ck0, cs0 = <uint64_t>int(max_steps), <uint64_t>int(k0), <uint64_t>int(steps0)
        if t_stop is not None:
            ts = float(t_stop)
        t0, dt, mh = float(t0_s), float(interval_s), float(min_hops)
        if not (isinstance(total_out, np.ndarray) and total_out.dtype == np.float64
                and total_out.ndim == 2 and total_out.shape[1] == 3
                and total_out.flags.c_contiguous and total_out.flags.writeable):
            raise ConfigError("total_out must be a writeable C-contiguous float64 array of "
                              "shape (m, 3)")
        m = total_out.shape[0]
        if not (isinstance(steps_out, np.ndarray) and steps_out.dtype == np.uint64
                and steps_out.shape == (m,) and steps_out.flags.c_contiguous
                and steps_out.flags.writeable):
            raise ConfigError(f"steps_out must be a writeable contiguous uint64 array of "
                              f"shape ({m},)")
        cdef double[:, ::1] v_tot = total_out
        cdef uint64_t[::1] v_steps = steps_out
        cdef double *p_tot = &v_tot[0, 0] if m else NULL
        cdef uint64_t *p_steps = &v_steps[0] if m else NULL
        with nogil:
            rc = kmc_engine_run_points(self._e, cmax, ts, t0, dt, ck0, m, mh, cs0, p_tot,
                                       p_steps, &n, &done, &reason)
        if rc != KMC_OK:
            _raise(rc, kmc_engine_errmsg(self._e))
        return int(done), STOP_REASONS[reason], int(n)

    def get_state(self):
        """Copy of the dynamic state (a checkpoint): dict of numpy arrays and scalars."""
        cdef kmc_state st
        n = self.n_ions
        ion_site = np.empty(n, np.int32)
        disp = np.empty((n, 3), np.float64)
        jsq = np.empty(n, np.float64)
        hops = np.empty(n, np.uint64)
        counts = np.empty(self.n_hop_types, np.uint64)
        ev_counts = np.zeros(max(self.n_event_types, 1), np.uint64)
        cdef int32_t[::1] v_site = ion_site
        cdef double[:, ::1] v_disp = disp
        cdef double[::1] v_jsq = jsq
        cdef uint64_t[::1] v_hops = hops
        cdef uint64_t[::1] v_counts = counts
        cdef uint64_t[::1] v_ev = ev_counts
        st.ion_site = &v_site[0] if n else NULL
        st.displacement = &v_disp[0, 0] if n else NULL
        st.jump_sq = &v_jsq[0] if n else NULL
        st.ion_hops = &v_hops[0] if n else NULL
        st.type_counts = &v_counts[0]
        st.event_counts = &v_ev[0] if self.n_event_types else NULL
        kmc_engine_get_state(self._e, &st)
        return {
            "ion_site": ion_site, "displacement": disp, "jump_sq": jsq, "ion_hops": hops,
            "type_counts": counts, "event_counts": ev_counts[:self.n_event_types],
            "time_s": st.time_s, "steps": int(st.steps),
            "total_displacement": np.array([st.total_displacement[d] for d in range(3)]),
            "rng": np.array([st.rng[d] for d in range(4)], dtype=np.uint64),
        }

    def set_state(self, state):
        """Restore a state from get_state(); rates and the sum tree are rebuilt."""
        cdef kmc_state st
        cdef int rc
        n = self.n_ions
        site = _array(state["ion_site"], "ion_site", np.int32, (n,))
        disp = _array(state["displacement"], "displacement", np.float64, (n, 3))
        jsq = _array(state["jump_sq"], "jump_sq", np.float64, (n,))
        hops = _array(state["ion_hops"], "ion_hops", np.uint64, (n,))
        counts = _array(state["type_counts"], "type_counts", np.uint64, (self.n_hop_types,))
        tot = _array(state["total_displacement"], "total_displacement", np.float64, (3,))
        rng = _array(state["rng"], "rng", np.uint64, (4,))
        ev = _array(state.get("event_counts", np.zeros(self.n_event_types, np.uint64)),
                    "event_counts", np.uint64, (self.n_event_types,))
        ev = np.concatenate([ev, np.zeros(1, np.uint64)])  # never empty
        cdef uint64_t[::1] v_ev = ev
        cdef int32_t[::1] v_site = site
        cdef double[:, ::1] v_disp = disp
        cdef double[::1] v_jsq = jsq
        cdef uint64_t[::1] v_hops = hops
        cdef uint64_t[::1] v_counts = counts
        st.ion_site = &v_site[0] if n else NULL
        st.displacement = &v_disp[0, 0] if n else NULL
        st.jump_sq = &v_jsq[0] if n else NULL
        st.ion_hops = &v_hops[0] if n else NULL
        st.type_counts = &v_counts[0]
        st.event_counts = &v_ev[0] if self.n_event_types else NULL
        st.time_s = float(state["time_s"])
        st.steps = <uint64_t>int(state["steps"])
        for d in range(3):
            st.total_displacement[d] = tot[d]
        for d in range(4):
            st.rng[d] = <uint64_t>int(rng[d])
        rc = kmc_engine_set_state(self._e, &st)
        if rc != KMC_OK:
            _raise(rc, kmc_engine_errmsg(self._e))

    def displacements(self):
        """Per-ion unwrapped displacements (n_ions, 3) Angstrom and sums of squared jumps
        (n_ions,) Angstrom^2 since creation (copies)."""
        n = self.n_ions
        disp = np.empty((n, 3), np.float64)
        jsq = np.empty(n, np.float64)
        cdef double[:, ::1] v_disp = disp
        cdef double[::1] v_jsq = jsq
        if n:
            kmc_engine_get_displacements(self._e, &v_disp[0, 0], &v_jsq[0])
        return disp, jsq

    def check(self):
        """Recompute every derived quantity from scratch and compare; raise KMCError if stale."""
        cdef int rc = kmc_engine_check(self._e)
        if rc != KMC_OK:
            _raise(rc, kmc_engine_errmsg(self._e))

    @property
    def time_s(self):
        """Simulated time, s."""
        return kmc_engine_time(self._e)

    @property
    def steps(self):
        """Events executed since creation."""
        return int(kmc_engine_steps(self._e))

    @property
    def total_displacement_A(self):
        """Sum over all ions of their unwrapped displacement since creation, shape (3,),
        Angstrom (O(1): the engine keeps it)."""
        out = np.empty(3, np.float64)
        cdef double[::1] v = out
        kmc_engine_get_total_displacement(self._e, &v[0])
        return out

    @property
    def total_rate_Hz(self):
        """Current total event rate R_total, Hz."""
        return kmc_engine_total_rate(self._e)

    @property
    def memory_bytes(self):
        """Bytes allocated by the C engine."""
        return int(kmc_engine_memory_bytes(self._e))

    @property
    def layout(self):
        """How the engine stores the network (dict): ``n_site_classes`` (sites whose hop
        lists, barriers, energies and interaction lists are the same relative to the site
        share one; a periodic lattice has a few dozen, a disordered network one per site),
        ``n_class_hops``, ``n_hop_classes``, and whether the interacting mode uses the rate
        memo (``rate_memo``) and value tables for its local models (``model_tables``), and
        how many configurations the tree solver remembers (``config_memo``; None without
        the memo, which only a system of at most 64 sites with interactions has)."""
        cdef kmc_engine_layout lay
        kmc_engine_get_layout(self._e, &lay)
        return {"n_site_classes": int(lay.n_site_classes), "n_class_hops": int(lay.n_class_hops),
                "n_hop_classes": int(lay.n_hop_classes), "rate_memo": bool(lay.rate_memo),
                "model_tables": bool(lay.model_tables),
                "config_memo": None if lay.config_memo < 0 else int(lay.config_memo)}

    @property
    def mode(self):
        """The algorithm in use: "tree", "count" or "uniform"."""
        return MODES[kmc_engine_mode(self._e)]
