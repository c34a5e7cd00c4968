"""The order book structure: levels, best prices, removal, depth."""

from __future__ import annotations

from market import BUY, SELL, Order, OrderBook

_ids = iter(range(1, 10_000))


def order(side: str, price: int, qty: int = 1) -> Order:
    return Order(next(_ids), "X", "user:a", side, "limit", price, qty)


def test_best_prices_are_highest_bid_and_lowest_ask():
    book = OrderBook("X")
    for p in (9, 11, 10):
        book.add(order(BUY, p))
    for p in (14, 12, 13):
        book.add(order(SELL, p))
    assert book.best_bid() == 11 and book.best_ask() == 12
    assert not book.is_crossed()


def test_removing_the_last_order_of_a_level_removes_the_level():
    book = OrderBook("X")
    a, b = order(BUY, 11), order(BUY, 10)
    book.add(a)
    book.add(b)
    book.remove(a)
    assert book.best_bid() == 10 and 11 not in book.bids and len(book) == 1


def test_orders_queue_in_time_order_within_a_level():
    book = OrderBook("X")
    first, second = order(SELL, 12), order(SELL, 12)
    book.add(first)
    book.add(second)
    assert list(book.asks[12]) == [first, second]


def test_recreated_levels_do_not_pile_up_in_the_heap():
    book = OrderBook("X")
    book.add(order(SELL, 20))  # keeps 12 from ever reaching the top of the heap
    book.add(order(SELL, 5))
    for _ in range(100):
        o = order(SELL, 12)
        book.add(o)
        book.remove(o)
    assert len(book.ask_heap) <= 3


def test_depth_sums_each_level():
    book = OrderBook("X")
    book.add(order(BUY, 10, 3))
    book.add(order(BUY, 10, 4))
    book.add(order(BUY, 9, 1))
    assert [tuple(lv) for lv in book.depth(BUY)] == [(10, 7, 2), (9, 1, 1)]


def test_empty_book_has_no_best_prices():
    book = OrderBook("X")
    assert book.best_bid() is None and book.best_ask() is None and not book.is_crossed()


def test_new_order_builds_exactly_what_the_constructor_builds():
    from datetime import UTC, datetime

    from market.book import new_order

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for args in ((7, "X", "user:a", BUY, "limit", 10, 3, "GTC", False, None, t0),
                 (8, "Y", "user:b", SELL, "market", 9, 1, "GTD", True, t0, None)):
        fast, slow = new_order(*args), Order(*args)
        assert type(fast) is Order
        names = getattr(Order, "__slots__", None) or Order.__mypyc_attrs__  # interpreted or compiled (mypyc)
        assert len(names) == 19
        assert {s: getattr(fast, s) for s in names} == {s: getattr(slow, s) for s in names}
        assert fast.trades is not slow.trades  # each order its own trade list


def test_a_copy_is_a_snapshot_of_every_field():
    import copy
    from datetime import UTC, datetime

    order = Order(7, "X", "user:a", BUY, "limit", 10, 3, "GTD", True, datetime(2026, 1, 2, tzinfo=UTC),
                  datetime(2026, 1, 1, tzinfo=UTC))
    order.remaining, order.filled, order.status, order.hold_id, order.locked = 1, 2, "open", "h1", 11
    order.reason, order.platform = "r", True
    order.trades.append("t")
    snap = copy.copy(order)
    names = getattr(Order, "__slots__", None) or Order.__mypyc_attrs__
    assert snap is not order and {s: getattr(snap, s) for s in names} == {s: getattr(order, s) for s in names}
    snap.remaining, snap.status = 0, "filled"
    assert order.remaining == 1 and order.status == "open"
