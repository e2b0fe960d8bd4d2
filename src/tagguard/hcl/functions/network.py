"""IP networks: ``cidrsubnet``, ``cidrhost``, ``cidrnetmask`` (``ipaddress`` imported when called)."""
from __future__ import annotations

from typing import Any

from ..values import EvalError
from ._common import Table, registrar
from ._common import text as _s
from ._common import whole as _int

FUNCTIONS: Table = {}
register = registrar(FUNCTIONS)


@register("cidrsubnet")
def cidrsubnet(prefix: Any, newbits: Any, netnum: Any) -> str:
    import ipaddress  # lazily: only modules that compute subnets need it

    network = ipaddress.ip_network(_s(prefix), strict=False)
    new_prefix = network.prefixlen + _int(newbits)
    number = _int(netnum)
    if new_prefix > network.max_prefixlen or number < 0 or number >= 2 ** _int(newbits):
        raise EvalError("not enough address space for the requested subnet")
    size = 2 ** (network.max_prefixlen - new_prefix)
    base = int(network.network_address) + number * size
    return f"{ipaddress.ip_address(base)}/{new_prefix}"


@register("cidrhost")
def cidrhost(prefix: Any, hostnum: Any) -> str:
    import ipaddress

    network = ipaddress.ip_network(_s(prefix), strict=False)
    number = _int(hostnum)
    if number < 0:
        number += network.num_addresses
    if not 0 <= number < network.num_addresses:
        raise EvalError(f"prefix does not accommodate host number {number}")
    return str(ipaddress.ip_address(int(network.network_address) + number))


@register("cidrnetmask")
def cidrnetmask(prefix: Any) -> str:
    import ipaddress

    return str(ipaddress.ip_network(_s(prefix), strict=False).netmask)
