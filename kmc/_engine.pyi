from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

STOP_REASONS: tuple[str, str, str]
MODES: tuple[str, str, str, str]
MAX_DEGREE: int
MAX_EVENT_MOVES: int
MAX_CLUSTER_SITES: int
CONFIG_MEMO_MAX_SITES: int
CONFIG_MEMO_MAX_BYTES: int
MAX_ATTEMPT_FREQUENCY_HZ: float
KB_EV_PER_K: float
RATE_LAWS: tuple[str, ...]

def rate_Hz(
    ekra_eV: ArrayLike,
    dE_eV: ArrayLike,
    temperature_K: float,
    attempt_frequency_Hz: float,
    rate_law: str = ...,
) -> NDArray[np.float64]: ...

class Engine:
    n_sites: int
    n_ions: int
    n_hop_types: int
    n_event_types: int
    rate_law: str
    def __init__(
        self,
        hop_ptr: ArrayLike | None,
        hop_dst: ArrayLike | None,
        hop_rev: ArrayLike | None,
        hop_type: ArrayLike | None,
        hop_vec: ArrayLike | None,
        hop_ekra: ArrayLike | None,
        site_energy: ArrayLike,
        ion_sites: ArrayLike,
        *,
        n_hop_types: int,
        temperature_K: float,
        attempt_frequency_Hz: float,
        charge_e: float,
        field_V_per_A: ArrayLike = ...,
        int_ptr: ArrayLike | None = ...,
        int_nbr: ArrayLike | None = ...,
        int_J: ArrayLike | None = ...,
        hop_J: ArrayLike | None = ...,
        ev_ptr: ArrayLike | None = ...,
        ev_src: ArrayLike | None = ...,
        ev_dst: ArrayLike | None = ...,
        ev_vec: ArrayLike | None = ...,
        ev_ekra: ArrayLike | None = ...,
        ev_type: ArrayLike | None = ...,
        n_event_types: int = ...,
        ev_vidx: ArrayLike | None = ...,
        site_template: ArrayLike | None = ...,
        tp_ptr: ArrayLike | None = ...,
        tp_doff: ArrayLike | None = ...,
        tp_rev: ArrayLike | None = ...,
        tp_type: ArrayLike | None = ...,
        tp_vec: ArrayLike | None = ...,
        tp_ekra: ArrayLike | None = ...,
        ti_ptr: ArrayLike | None = ...,
        ti_doff: ArrayLike | None = ...,
        ti_J: ArrayLike | None = ...,
        tp_J: ArrayLike | None = ...,
        seed: int,
        mode: str = ...,
        rate_law: str = ...,
        config_memo: bool | Literal["walk"] = ...,
    ) -> None: ...
    def run(self, max_steps: int, t_stop: float | None = ...) -> tuple[int, str]: ...
    def run_points(
        self,
        max_steps: int,
        t_stop: float | None,
        t0_s: float,
        interval_s: float,
        k0: int,
        total_out: NDArray[np.float64],
        steps_out: NDArray[np.uint64],
        min_hops: float = ...,
        steps0: int = ...,
    ) -> tuple[int, str, int]: ...
    def get_state(self) -> dict[str, Any]: ...
    def set_state(self, state: dict[str, Any]) -> None: ...
    def displacements(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]: ...
    def check(self) -> None: ...
    @property
    def time_s(self) -> float: ...
    @property
    def steps(self) -> int: ...
    @property
    def total_displacement_A(self) -> NDArray[np.float64]: ...
    @property
    def total_rate_Hz(self) -> float: ...
    @property
    def memory_bytes(self) -> int: ...
    @property
    def layout(self) -> dict[str, int | bool]: ...
    @property
    def mode(self) -> str: ...
