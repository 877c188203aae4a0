"""A bounded cache of compiled programs, shared by every module that keeps jitted samplers."""

from __future__ import annotations

import collections
from collections.abc import Callable, Hashable
from typing import Any

from ._errors import InvalidValueError

#: Programs kept per cache. Each compiled XLA:CPU executable holds about ten memory mappings
#: and Linux allows a process 65,530 (``vm.max_map_count``): a process that compiles thousands
#: of samplers and keeps them all (a long notebook, a test suite) crashes inside the compiler
#: once it runs out. Evicting the least recently used program frees its executables.
MAX_PROGRAMS = 32


class CompiledCache:
    """Least-recently-used mapping from a hashable key to a compiled program.

    ``get(key, build)`` returns the cached program or builds, stores and returns it; once
    ``maxsize`` programs are held the least recently used one is dropped (and with its last
    reference, its compiled executables).
    """

    def __init__(self, maxsize: int = MAX_PROGRAMS) -> None:
        if maxsize < 1:
            raise InvalidValueError(f"maxsize must be at least 1, got {maxsize}")
        self.maxsize = maxsize
        self._programs: collections.OrderedDict[Hashable, Any] = collections.OrderedDict()

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        if key in self._programs:
            self._programs.move_to_end(key)
            return self._programs[key]
        program = build()
        self._programs[key] = program
        while len(self._programs) > self.maxsize:
            self._programs.popitem(last=False)
        return program

    def __contains__(self, key: Hashable) -> bool:
        return key in self._programs

    def __len__(self) -> int:
        return len(self._programs)

    def clear(self) -> None:
        self._programs.clear()
