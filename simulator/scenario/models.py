"""The scenario file as frozen pydantic models: the single definition of what a scenario may say.

Units: time in days unless a name says months or minutes; rates per month unless a name says
otherwise; money in the scenario's currency; satisfaction on a 0-10 scale.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from simulator.scenario.uncertainty import Uncertainty

# Numbers are strict (a boolean or a string is not a number: `headcount: yes` is an error, not 1), finite,
# and bounded above (MONEY, MONEY_TOTAL, ...): anything that validates runs. The bounds are in the schema.
NonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False, strict=True)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False, strict=True)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False, strict=True)]
Finite = Annotated[float, Field(ge=-1e12, le=1e12, allow_inf_nan=False, strict=True)]

MONEY = 1e9  # one amount: an annual salary, a basket, a cost per customer or per contact
MONEY_TOTAL = 1e12  # an amount per month or one-off, for the whole business
CUSTOMERS = 5_000_000  # initial customers of a segment
ACQUISITIONS = 1_000_000  # new customers of a segment per month
PER_CUSTOMER_MONTH = 1_000  # contacts or purchases per customer per month
DAYS = 3_650  # delays, lags and ramps (ten years)
MONTHS = 600  # the longest horizon
POINTS = 100  # experience points (satisfaction is on a 0-10 scale)
Name = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class Strict(BaseModel):
    """Unknown keys are errors; parsed scenarios never change."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Metadata(Strict):
    name: str = Field(min_length=1, description="Scenario name shown in reports")
    description: str = ""
    horizon_months: int = Field(36, gt=0, le=MONTHS, strict=True, description="Simulated months")
    step_days: Positive = Field(7.0, le=366, description="Days between updates of the causal network")
    period_days: Positive = Field(30.4375, le=366, description="Length of a reporting period (a month)")
    currency: str = "EUR"
    discount_rate: Fraction = Field(
        0.08, description="Annual discount rate for NPV and lifetime value"
    )


class Employees(Strict):
    """The frontline staff who serve contacts; every employee is a server while at the desk."""

    headcount: int = Field(gt=0, le=100_000, strict=True)
    annual_salary: NonNeg = Field(le=MONEY, description="Fully loaded annual cost per employee")
    annual_quit_rate: NonNeg = Field(0.30, le=52, description="Default of port employee_quit_rate (quits per employee-year)")
    hiring_lag_days: NonNeg = Field(45.0, le=DAYS, description="Days from a quit to the replacement's first day")
    ramp_days: NonNeg = Field(60.0, le=DAYS, description="Days for a new hire to reach full productivity")
    replacement_cost_fraction: Annotated[float, Field(ge=0, le=5, allow_inf_nan=False, strict=True)] = Field(
        0.21, description="Cost of one quit as a share of annual salary (Boushey & Glynn 2012: 21%)"
    )
    service_share: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False, strict=True)] = Field(
        1.0, description="Share of productive time spent serving contacts"
    )
    minutes_per_day: Positive = Field(450.0, le=1440, description="Service minutes in one working day")
    practical_capacity: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False, strict=True)] = Field(
        0.85, description="Practical share of theoretical capacity (Kaplan & Anderson: 80-85%)"
    )
    severance_months: Annotated[float, Field(ge=0, le=60, allow_inf_nan=False, strict=True)] = Field(
        3.0, description="Severance per redundancy, in months of salary"
    )
    overtime_premium: Annotated[float, Field(ge=1, le=5, allow_inf_nan=False, strict=True)] = Field(
        1.5, description="Pay per overtime minute as a multiple of the paid-minute rate (work beyond practical capacity)"
    )


class Service(Strict):
    """How one contact turns into an experience score and a customer's satisfaction."""

    experience_noise: NonNeg = Field(1.0, le=POINTS, description="Std. dev. of a contact's experience score")
    disposition_spread: NonNeg = Field(
        1.2, le=POINTS, description="Std. dev. of customers' lasting personal offset to every experience (how they rate)"
    )
    wait_penalty_per_minute: NonNeg = Field(0.08, le=POINTS, description="Experience points lost per minute waited")
    abandonment_penalty: NonNeg = Field(3.0, le=POINTS, description="Experience points lost when a contact abandons")
    satisfaction_smoothing: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False, strict=True)] = Field(
        0.3, description="Weight of a new experience in a customer's satisfaction"
    )
    satisfaction_reference: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False, strict=True)] = 7.0


class Segment(Strict):
    """A group of customers with shared behaviour and economics."""

    name: Name
    label: str = Field("", description="Name shown to people (default: the name with spaces for underscores)")
    description: str = ""
    initial_customers: int = Field(ge=0, le=CUSTOMERS, strict=True)
    acquisition_per_month: NonNeg = Field(0.0, le=ACQUISITIONS, description="New customers per month before ports")
    acquisition_cost: NonNeg = Field(0.0, le=MONEY, description="Cost per customer won")
    contacts_per_month: NonNeg = Field(1.0, le=PER_CUSTOMER_MONTH, description="Service contacts per customer per month")
    purchases_per_month: NonNeg = Field(1.0, le=PER_CUSTOMER_MONTH, description="Purchases per customer per month")
    basket: NonNeg = Field(le=MONEY, description="Revenue per purchase at price index 1")
    cogs_fraction: Fraction = Field(0.5, description="Cost of goods as a share of revenue")
    handle_minutes: Positive = Field(10.0, le=10_000, description="Mean handling time of a contact")
    patience_minutes: Annotated[float, Field(gt=0, le=100_000, allow_inf_nan=False, strict=True)] | None = Field(
        15.0, description="Mean patience before abandoning; null = never")
    churn_per_month: Fraction = Field(0.02, description="Base monthly defection probability")
    satisfaction_sensitivity: NonNeg = Field(
        0.3, le=10, description="Churn hazard multiplies by exp(-s * (satisfaction - reference))"
    )
    initial_satisfaction: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False, strict=True)] = 7.0
    price_churn_elasticity: Annotated[float, Field(ge=0, le=20, allow_inf_nan=False, strict=True)] = Field(
        0.0, description="Churn hazard multiplies by (price / reference price) ** elasticity"
    )
    price_satisfaction_points: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False, strict=True)] = Field(
        0.0, description="Experience points lost per doubling of the price (log2 of price / reference price)"
    )
    self_service_contacts_per_month: NonNeg = Field(
        0.0, le=PER_CUSTOMER_MONTH, description="Contacts per customer per month handled in a self-service channel (not at the desk)"
    )
    self_service_cost: NonNeg = Field(0.0, le=MONEY, description="Cash cost of one self-service contact")


ActivityDriver = Literal["contact", "customer_month", "purchase", "new_customer", "month"]


class Activity(Strict):
    """A time-driven ABC activity: minutes of staff capacity per occurrence of its driver."""

    name: Name
    minutes: Positive = Field(le=100_000)
    driver: ActivityDriver
    segments: list[str] | None = Field(None, description="Segments it applies to; null = all")
    per_month: NonNeg = Field(1.0, le=1e6, description="Driver 'month': occurrences per month (a fixed workload)")


class Costs(Strict):
    fixed_per_month: NonNeg = Field(0.0, le=MONEY_TOTAL, description="Overheads not driven by volume")


NodeKind = Literal["lever", "stock", "auxiliary", "measure"]


class Node(Strict):
    """A variable of the causal network."""

    name: Name
    label: str = Field("", description="Name shown to people (default: the name with spaces for underscores)")
    kind: NodeKind
    unit: str = ""
    description: str = ""
    reference: Finite = Field(0.0, description="Reference value: links act on deviations from it")
    initial: Finite | None = Field(None, description="Stocks: starting value (default: reference)")
    min: Finite | None = None
    max: Finite | None = None
    adjust_days: Positive = Field(30.0, le=10 * DAYS, description="Stocks: time constant of the first-order adjustment")
    integrate: bool = Field(False, strict=True, description="Stocks: integrate the links' sum per day instead of adjusting")

    @model_validator(mode="after")
    def _bounds(self) -> Node:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


LinkForm = Literal["linear", "elasticity", "saturating", "table"]


class Link(Strict):
    """A causal link: the target's deviation from its reference gains a contribution from the source."""

    source: Name = Field(alias="from")
    target: Name = Field(alias="to")
    effect: Annotated[float, Field(ge=-1e6, le=1e6, allow_inf_nan=False, strict=True)] = 1.0
    form: LinkForm = "linear"
    delay_days: NonNeg = Field(0.0, le=DAYS, description="The target sees a first-order smoothed copy of the source")
    scale: Annotated[float, Field(gt=0, le=1e12, allow_inf_nan=False, strict=True)] | None = Field(
        None, description="Saturating: deviation at which ~76% of the effect is reached")
    points: list[tuple[Finite, Finite]] | None = Field(None, description="Table: [[x, y], ...] sorted by x")
    description: str = ""

    @property
    def id(self) -> str:
        return f"{self.source}->{self.target}"

    @model_validator(mode="after")
    def _form_parameters(self) -> Link:
        if self.form == "table":
            if not self.points or len(self.points) < 2:
                raise ValueError("a table link needs at least two points [[x, y], ...]")
            xs = [p[0] for p in self.points]
            if any(b <= a for a, b in zip(xs, xs[1:], strict=False)):
                raise ValueError(f"table points must be sorted by strictly increasing x, got x = {xs}")
        elif self.points is not None:
            raise ValueError(f"'points' only applies to form 'table', not '{self.form}'")
        return self


class Network(Strict):
    nodes: list[Node] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)


class Effect(Strict):
    """What an initiative does: exactly one target (lever, link or segment parameter) and one operation."""

    lever: Name | None = None
    link: str | None = Field(None, description="'from->to'")
    segment: Name | None = None
    parameter: str | None = Field(None, description="Segment parameter, e.g. churn_per_month")
    set: Finite | None = None
    add: Finite | None = None
    scale: Finite | None = None

    @model_validator(mode="after")
    def _one_target_one_op(self) -> Effect:
        targets = [t for t in ("lever", "link", "segment") if getattr(self, t) is not None]
        if len(targets) != 1:
            raise ValueError("an effect needs exactly one of 'lever', 'link' or 'segment'")
        ops = [o for o in ("set", "add", "scale") if getattr(self, o) is not None]
        if len(ops) != 1:
            raise ValueError("an effect needs exactly one of 'set', 'add' or 'scale'")
        if self.segment is not None and self.parameter is None:
            raise ValueError("a segment effect needs 'parameter'")
        if self.segment is None and self.parameter is not None:
            raise ValueError("'parameter' only applies to a segment effect")
        return self

    @property
    def operation(self) -> tuple[str, float]:
        for op in ("set", "add", "scale"):
            value = getattr(self, op)
            if value is not None:
                return op, float(value)
        raise AssertionError("validated effect without an operation")


class Initiative(Strict):
    name: Name
    label: str = Field("", description="Name shown to people (default: the name with spaces for underscores)")
    description: str = ""
    one_off_cost: NonNeg = Field(0.0, le=MONEY_TOTAL)
    monthly_cost: NonNeg = Field(0.0, le=MONEY_TOTAL)
    start_month: NonNeg = Field(0.0, le=MONTHS)
    ramp_months: NonNeg = Field(0.0, le=MONTHS, description="Months for the effects to reach full size")
    duration_months: Annotated[float, Field(gt=0, le=MONTHS, allow_inf_nan=False, strict=True)] | None = Field(
        None, description="null = until the horizon")
    effects: list[Effect] = Field(default_factory=list)


class Strategy(Strict):
    name: Name
    label: str = Field("", description="Name shown to people (default: the name with spaces for underscores)")
    description: str = ""
    initiatives: list[str] = Field(default_factory=list)


Perspective = Literal["financial", "customer", "internal_process", "learning_growth"]


class KPI(Strict):
    name: Name
    label: str = Field("", description="Name shown to people (default: the name with spaces for underscores)")
    unit: str = Field("", description="Unit shown with its values (default: from the metric)")
    metric: str = Field(description="A results column: an engine output or a network node")
    aggregation: Literal["last", "mean", "sum"] = "last"
    window_months: int = Field(1, gt=0, le=MONTHS, strict=True, description="Months at the end of the horizon it aggregates")
    target: Finite
    direction: Literal["higher", "lower"] = "higher"
    amber: NonNeg = Field(0.0, le=1e12, description="Width of the amber band on the wrong side of the target")
    weight: NonNeg = Field(1.0, le=1e6)


class Objective(Strict):
    name: Name
    description: str = ""
    kpis: list[KPI] = Field(min_length=1)


class PerspectiveSpec(Strict):
    name: Perspective
    objectives: list[Objective] = Field(default_factory=list)


class Scorecard(Strict):
    perspectives: list[PerspectiveSpec] = Field(default_factory=list)


class RunSettings(Strict):
    replications: int = Field(10, gt=0, le=10_000, strict=True)
    seed: int = Field(42, ge=0, lt=2**63, strict=True)


class Valuation(Strict):
    """Value beyond the horizon: firm value = NPV over the horizon + continuing value of the base left at its end."""

    method: Literal["none", "continuing"] = Field(
        "continuing",
        description="continuing (default): add the discounted continuing value of the customers active at the horizon "
                    "(segment margin net of cost to serve, retention exp(-hazard), less the costs that keep serving "
                    "them); none: firm value = NPV",
    )
    rank_on: Literal["npv", "firm_value"] = Field(
        "firm_value", description="Rank strategies on firm value (default) or on NPV over the horizon alone"
    )


class Scenario(Strict):
    """A whole scenario file (after `extends:` has been merged)."""

    extends: str | None = Field(None, description="Base scenario file this one overrides (path relative to this file)")
    metadata: Metadata
    employees: Employees
    service: Service = Field(default_factory=Service)
    segments: list[Segment] = Field(min_length=1)
    activities: list[Activity] = Field(default_factory=list)
    costs: Costs = Field(default_factory=Costs)
    network: Network = Field(default_factory=Network)
    initiatives: list[Initiative] = Field(default_factory=list)
    strategies: list[Strategy] = Field(default_factory=list)
    scorecard: Scorecard = Field(default_factory=Scorecard)
    run: RunSettings = Field(default_factory=RunSettings)
    valuation: Valuation = Field(default_factory=Valuation, description="How value beyond the horizon is counted")
    uncertainty: Uncertainty = Field(
        default_factory=Uncertainty,
        description="Uncertain assumptions (distributions by parameter path) and how `spc decide` samples them",
    )

    @field_validator("segments", "activities", "initiatives", "strategies")
    @classmethod
    def _unique_names(cls, items: list) -> list:
        seen: set[str] = set()
        for item in items:
            if item.name in seen:
                raise ValueError(f"duplicate name '{item.name}'")
            seen.add(item.name)
        return items

    def node(self, name: str) -> Node | None:
        return next((n for n in self.network.nodes if n.name == name), None)

    def as_data(self) -> dict:
        """The merged, validated scenario as plain data (JSON types): how a scenario travels to workers and run folders."""
        return self.model_dump(mode="json", by_alias=True, exclude={"extends"})

    def strategy_names(self) -> list[str]:
        return ["baseline"] + [s.name for s in self.strategies if s.name != "baseline"]


SEGMENT_PARAMETERS: tuple[str, ...] = (
    "acquisition_per_month", "acquisition_cost", "contacts_per_month", "purchases_per_month", "basket",
    "cogs_fraction", "handle_minutes", "patience_minutes", "churn_per_month", "satisfaction_sensitivity",
    "price_churn_elasticity", "price_satisfaction_points", "self_service_contacts_per_month", "self_service_cost",
)
"""Segment parameters an initiative may change (numbers that the engine reads every step)."""
