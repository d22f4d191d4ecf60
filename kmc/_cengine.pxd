# Extern declarations of csrc/kmc_engine.h (1:1).
from libc.stdint cimport int32_t, uint64_t


cdef extern from "kmc_engine.h" nogil:
    enum: KMC_MAX_DEGREE
    enum: KMC_MAX_EVENT_MOVES
    enum: KMC_MAX_CLUSTER_SITES
    enum: KMC_CONFIG_MEMO_MAX_SITES
    enum: KMC_CONFIG_MEMO_MAX_BYTES
    const double KMC_MAX_ATTEMPT_FREQUENCY_HZ
    const double KMC_KB_EV_PER_K
    ctypedef enum kmc_rate_law:
        KMC_RATE_KRA
        KMC_N_RATE_LAWS
    ctypedef enum kmc_status:
        KMC_OK
        KMC_ERR_NOMEM
        KMC_ERR_INVALID
        KMC_ERR_STATE
    ctypedef enum kmc_stop_reason:
        KMC_STOP_STEPS
        KMC_STOP_TIME
        KMC_STOP_FROZEN

    ctypedef struct kmc_network:
        int32_t n_sites
        int32_t n_hops
        int32_t n_hop_types
        const int32_t *hop_ptr
        const int32_t *hop_dst
        const int32_t *hop_rev
        const int32_t *hop_type
        const double *hop_vec
        const double *hop_ekra
        const double *site_energy
        const int32_t *int_ptr
        const int32_t *int_nbr
        const double *int_J
        const double *hop_J
        int32_t n_events
        int32_t n_event_types
        const int32_t *ev_ptr
        const int32_t *ev_src
        const int32_t *ev_dst
        const double *ev_vec
        const double *ev_ekra
        const int32_t *ev_type
        const int32_t *ev_vidx
        int32_t n_ev_vecs
        int32_t ev_borrow
        int32_t ev_ekra_same
        int32_t n_templates
        int32_t n_ev_classes
        const int32_t *ev_class
        const int32_t *et_ptr
        int32_t et_k
        const int32_t *et_slot
        const double *et_vec
        const double *et_ekra
        const int32_t *et_type
        const int32_t *site_template
        const int32_t *tp_ptr
        const int32_t *tp_doff
        const int32_t *tp_rev
        const int32_t *tp_type
        const double *tp_vec
        const double *tp_ekra
        const int32_t *ti_ptr
        const int32_t *ti_doff
        const double *ti_J
        const double *tp_J
        int32_t n_clusters
        const int32_t *cl_ptr
        const int32_t *cl_site
        const double *cl_V
        int32_t n_local_models
        const double *lm_e0
        const double *lm_phi
        const int32_t *lm_tptr
        const int32_t *lm_tpos
        const double *lm_K
        const int32_t *env_ptr
        const int32_t *env_site
        const int32_t *hop_kra_model
        const int32_t *hop_de_model

    ctypedef struct kmc_params:
        double temperature_K
        double attempt_frequency_Hz
        double charge_e
        double field_V_per_A[3]
        int mode
        int rate_law
        int no_config_memo
        int config_memo_walk

    ctypedef struct kmc_state:
        int32_t *ion_site
        double *displacement
        double *jump_sq
        uint64_t *ion_hops
        uint64_t *type_counts
        uint64_t *event_counts
        double time_s
        uint64_t steps
        double total_displacement[3]
        uint64_t rng[4]

    ctypedef struct kmc_engine:
        pass

    kmc_engine *kmc_engine_create(const kmc_network *net, const kmc_params *p, int32_t n_ions,
                                  const int32_t *ion_site, uint64_t seed, int *status,
                                  char *errmsg, size_t errmsg_len)
    void kmc_engine_free(kmc_engine *e)
    int kmc_engine_run(kmc_engine *e, uint64_t max_steps, double t_stop, uint64_t *steps_done,
                       int *reason)
    int kmc_engine_run_points(kmc_engine *e, uint64_t max_steps, double t_stop, double t0,
                              double interval, uint64_t k0, uint64_t max_points,
                              double min_hops, uint64_t steps0, double *total_out,
                              uint64_t *steps_out, uint64_t *n_points, uint64_t *steps_done,
                              int *reason)
    int kmc_engine_get_state(const kmc_engine *e, kmc_state *s)
    int kmc_engine_set_state(kmc_engine *e, const kmc_state *s)
    void kmc_engine_get_displacements(const kmc_engine *e, double *displacement, double *jump_sq)
    void kmc_engine_get_total_displacement(const kmc_engine *e, double *total_displacement)
    int kmc_engine_check(kmc_engine *e)
    int32_t kmc_engine_n_sites(const kmc_engine *e)
    int32_t kmc_engine_n_ions(const kmc_engine *e)
    int32_t kmc_engine_n_hop_types(const kmc_engine *e)
    int32_t kmc_engine_n_event_types(const kmc_engine *e)
    double kmc_engine_time(const kmc_engine *e)
    uint64_t kmc_engine_steps(const kmc_engine *e)
    double kmc_engine_total_rate(const kmc_engine *e)
    size_t kmc_engine_memory_bytes(const kmc_engine *e)
    ctypedef struct kmc_engine_layout:
        int32_t n_site_classes, n_class_hops, n_hop_classes
        int rate_memo, model_tables
        int32_t config_memo
    void kmc_engine_get_layout(const kmc_engine *e, kmc_engine_layout *out)
    int kmc_engine_mode(const kmc_engine *e)
    const char *kmc_engine_errmsg(const kmc_engine *e)
    const char *kmc_strerror(int code)
    const char *kmc_rate_law_name(int rate_law)
    int kmc_rate_Hz(int rate_law, double temperature_K, double attempt_frequency_Hz, size_t n,
                    const double *ekra_eV, const double *dE_eV, double *rate_Hz)
