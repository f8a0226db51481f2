"""Plain words for parameter paths, so a recommendation names an assumption the way a manager would."""

from __future__ import annotations


def _words(name: str) -> str:
    return name.replace("_", " ")


def describe(path: str, data: dict | None = None) -> str:
    """'links.employee_satisfaction->service_quality.effect' -> 'effect of employee satisfaction on service quality'."""
    parts = path.split(".")
    head = parts[0]
    if head == "links" and len(parts) >= 3:
        source, _, target = ".".join(parts[1:-1]).partition("->")
        what = {"effect": "effect", "delay_days": "delay (days) of the effect", "scale": "saturation of the effect"}
        return f"{what.get(parts[-1], _words(parts[-1]))} of {_words(source)} on {_words(target)}"
    if head == "initiatives" and len(parts) == 5 and parts[2] == "effects":
        target = _effect_target(data, parts[1], int(parts[3])) if data else ""
        return f"{_words(parts[1])}: effect on {target}" if target else f"{_words(parts[1])}: size of effect {parts[3]}"
    if head in ("segments", "initiatives", "activities", "nodes") and len(parts) == 3:
        return f"{_words(parts[1])}: {_words(parts[2])}"
    if len(parts) == 2:
        return _words(parts[1])
    return path


def _effect_target(data: dict, initiative: str, index: int) -> str:
    for ini in data.get("initiatives") or []:
        if ini.get("name") == initiative:
            effects = ini.get("effects") or []
            if 0 <= index < len(effects):
                eff = effects[index]
                if eff.get("lever"):
                    return _words(eff["lever"])
                if eff.get("link"):
                    source, _, target = eff["link"].partition("->")
                    return f"the effect of {_words(source)} on {_words(target)}"
                if eff.get("segment"):
                    return f"{_words(eff['segment'])} {_words(eff.get('parameter') or '')}".strip()
    return ""
