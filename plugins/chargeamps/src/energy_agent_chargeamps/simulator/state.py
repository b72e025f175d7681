"""What the simulated cloud knows: accounts, products, charge points and their connectors."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field

from energy_agent.api import Clock
from energy_agent_chargeamps.simulator.connector import Connector
from energy_agent_chargeamps.simulator.tokens import TokenStore


@dataclass(slots=True)
class Account:
    """A Charge Amps user: credentials for both APIs and how often it logged in."""

    email: str
    password: str
    api_key: str
    user_id: str
    first_name: str = "Sim"
    last_name: str = "Owner"
    login_count: int = 0

    def __repr__(self) -> str:
        # Keep the password and api key out of reprs that end up in logs and test output.
        return f"Account(email={self.email!r}, user_id={self.user_id!r}, login_count={self.login_count})"


@dataclass(frozen=True, slots=True)
class ProductSpec:
    """What differs between charger models."""

    product_name: str
    ocpp_version: str | None
    connector_functions: tuple[str, ...]
    installation_current_a: float
    dimmer: str
    down_light: bool | None
    firmware_version: str
    hardware_version: str


PRODUCTS: dict[str, ProductSpec] = {
    "HALO": ProductSpec("HALO", None, ("Charger", "Schuko"), 16.0, "Low", True, "5.10.0", "HALO-3"),
    "AURA": ProductSpec("AURA", "1.6", ("Charger", "Charger"), 32.0, "Medium", False, "2.4.1", "AURA-2"),
    "LUNA": ProductSpec("LUNA", "1.6", ("Charger",), 32.0, "Off", None, "1.8.3", "LUNA-1"),
}
"""The charger models the simulator offers: a HALO on CAPI, an AURA on OCPP 1.6, a LUNA without a down light."""


@dataclass
class ChargePoint:
    """A charger owned by one account, with numbered connectors."""

    id: str
    owner_email: str
    product: ProductSpec
    name: str
    connectors: dict[int, Connector]
    online: bool = True

    @property
    def ocpp_version(self) -> str | None:
        """None for CAPI chargers, "1.6" for OCPP ones."""
        return self.product.ocpp_version

    @property
    def is_charging(self) -> bool:
        """True while any connector charges."""
        return any(c.is_charging for c in self.connectors.values())


@dataclass
class World:
    """All state behind both APIs, on one injected clock."""

    clock: Clock
    userapp_token_lifetime_s: float
    official_token_lifetime_s: float
    refresh_token_lifetime_s: float
    accounts: dict[str, Account] = field(default_factory=dict)
    charge_points: dict[str, ChargePoint] = field(default_factory=dict)
    tokens: TokenStore = field(init=False)
    _schedule_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(4711))
    _session_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))

    def __post_init__(self) -> None:
        self.tokens = TokenStore(self.clock)

    def add_account(self, email: str, password: str, api_key: str) -> Account:
        """Register an account; emails are unique and compared without case."""
        key = email.lower()
        if key in self.accounts:
            raise ValueError(f"account {email} exists already")
        account = Account(email, password, api_key, str(uuid.uuid5(uuid.NAMESPACE_URL, f"mailto:{key}")))
        self.accounts[key] = account
        return account

    def account(self, email: str) -> Account | None:
        """The account with this email, if any."""
        return self.accounts.get(email.lower())

    def add_charge_point(self, email: str, product: str, charge_point_id: str, name: str | None) -> ChargePoint:
        """A new charge point of model `product` owned by `email`."""
        owner = self.account(email)
        if owner is None:
            raise ValueError(f"no account {email}")
        spec = PRODUCTS.get(product.upper())
        if spec is None:
            raise ValueError(f"unknown product {product!r}; choose one of {', '.join(PRODUCTS)}")
        if charge_point_id in self.charge_points:
            raise ValueError(f"charge point {charge_point_id} exists already")
        connectors = {
            number: Connector(
                clock=self.clock,
                charge_point_id=charge_point_id,
                connector_id=number,
                function=function,
                # A HALO's Schuko socket is a household outlet: 10 A on one phase.
                installation_current_a=10.0 if function == "Schuko" else spec.installation_current_a,
                owner_user_id=owner.user_id,
                session_ids=self._session_ids,
            )
            for number, function in enumerate(spec.connector_functions, start=1)
        }
        charge_point = ChargePoint(
            id=charge_point_id,
            owner_email=owner.email,
            product=spec,
            name=name or f"{spec.product_name.title()} {charge_point_id[-4:]}",
            connectors=connectors,
        )
        self.charge_points[charge_point_id] = charge_point
        return charge_point

    def connector(self, charge_point_id: str, connector_id: int) -> Connector:
        """A connector by charge point id and number; KeyError when either is unknown."""
        return self.charge_points[charge_point_id].connectors[connector_id]

    def owned_by(self, email: str) -> list[ChargePoint]:
        """The charge points of one account, in the order they were added."""
        return [cp for cp in self.charge_points.values() if cp.owner_email.lower() == email.lower()]

    def next_schedule_id(self) -> int:
        """A fresh schedule id (every PUT gets one)."""
        return next(self._schedule_ids)
