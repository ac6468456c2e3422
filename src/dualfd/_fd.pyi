from typing import Any, Callable

import numpy as np
import numpy.typing as npt

METHODS: dict[str, int]

def as_point(x: npt.ArrayLike, name: str = ...) -> np.ndarray: ...
def check_finite_x(x: np.ndarray, name: str = ...) -> None: ...

class Transform:
    f: Callable[..., Any]
    method: str
    def __call__(self, x: npt.ArrayLike, *args: Any, **kwargs: Any) -> Any: ...
