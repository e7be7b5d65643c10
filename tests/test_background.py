"""Work beside the frame loop yields the CPU: its threads run at a lower priority than the frame's."""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from vcam.engine.background import lower_priority


def test_background_threads_run_at_a_lower_priority_and_the_caller_keeps_its_own() -> None:
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    with ThreadPoolExecutor(1, initializer=lower_priority) as pool:
        nice = pool.submit(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())).result()
    assert nice == min(base + 10, 19) and os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base
