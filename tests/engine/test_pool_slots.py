"""The idle-slot gate of a pool's child (pool/slots.py), on threads: one slot listens to
Redis while the others park, and the listening role never stays vacant while a slot idles.

The slots here are stand-ins for workers whose blocking wait the test controls (the gate is
threading only; no Redis is involved, or faked)."""

from __future__ import annotations

import threading

from django_jobqueue.engine.pool.slots import SlotLink
from tests.harness import wait_until


class Slot:
    """What the gate reads of a worker, with a wait the test ends (returns "a token came")."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._stop_requested = False
        self._suspended = False
        self.listening = threading.Event()
        self.token = threading.Event()
        self.connection = None  # wake_all's push fails quietly: the listener is released here

    def listen(self, *wake_keys: str) -> bool:
        self.listening.set()
        self.token.wait(10)
        self.listening.clear()
        return True

    def request_stop(self) -> None:
        self._stop_requested = True


def _waiting(link: SlotLink, slot: Slot) -> threading.Thread:
    thread = threading.Thread(target=link.wait_for_work, args=(slot,), daemon=True)
    thread.start()
    return thread


def test_a_parked_slot_takes_over_listening_when_the_listener_goes_busy():
    a, b, c = Slot("a"), Slot("b"), Slot("c")
    link = SlotLink("child", [a, b, c])
    ta = _waiting(link, a)
    wait_until(a.listening.is_set, timeout=5)
    tb, tc = _waiting(link, b), _waiting(link, c)
    wait_until(lambda: link._parked == 2, timeout=5)
    a.token.set()  # a token: a goes to take, and wakes one parked slot to take as well
    ta.join(5)
    # a and the woken slot now run jobs (they do not come back); the third must listen
    wait_until(lambda: b.listening.is_set() or c.listening.is_set(), timeout=5,
               message="no slot listens while one idles")
    woken, listener = (tb, c) if c.listening.is_set() else (tc, b)
    woken.join(5)
    assert not woken.is_alive()
    listener.request_stop()
    listener.token.set()


def test_leaving_releases_every_parked_slot():
    slots = [Slot(str(i)) for i in range(4)]
    link = SlotLink("child", slots)
    threads = [_waiting(link, slot) for slot in slots]
    wait_until(lambda: link._parked == 3, timeout=5)
    link.leave("test")
    for slot in slots:
        slot.token.set()  # the listener's wait ends (in a pool: the wake key's token)
    for thread in threads:
        thread.join(5)
        assert not thread.is_alive()
    assert all(slot._stop_requested for slot in slots)
