import pytest

from npu_compat.rules.proxy_types import proxy_class


class Real:
    kind = "real"

    def __init__(self, value):
        self.value = value


def test_construct_isinstance_and_attributes_go_to_the_real_class():
    calls = []

    def construct(value):
        calls.append(value)
        return Real(value * 2)

    Proxy = proxy_class("Real", construct, Real)
    obj = Proxy(3)
    assert type(obj) is Real and obj.value == 6 and calls == [3]
    assert isinstance(obj, Proxy) and not isinstance(3, Proxy)
    assert issubclass(Real, Proxy) and not issubclass(int, Proxy)
    assert Proxy.kind == "real" and Proxy.__name__ == "Real"
    with pytest.raises(AttributeError):
        Proxy.missing


def test_custom_check():
    Proxy = proxy_class("Even", lambda v: v, check=lambda obj: isinstance(obj, int) and obj % 2 == 0)
    assert isinstance(4, Proxy) and not isinstance(3, Proxy)
