"""Read an SBML model (Level 2 or 3, through python-libsbml) as a :class:`~ssa.kinetic_model.KineticModel`.

The stochastic reading of SBML used by the SBML Test Suite's stochastic cases (DSMTS, Evans et al.
2008): species are counted in amounts, and a reaction's kinetic law *is* its propensity (events per
unit time). In a kinetic law a species stands for its amount when ``hasOnlySubstanceUnits`` is true and
for its concentration (amount / compartment size) otherwise.

Supported: species (initial amount or concentration, ``hasOnlySubstanceUnits``, boundary and constant
species), compartments, global and local parameters, function definitions, initial assignments,
assignment rules (their variables are reported as outputs and inlined where used), integer
stoichiometries, kinetic laws as any SBML math in :mod:`ssa.sbml_math`, and events without delay whose
trigger is ``time >= T`` or a condition on the species. Refused, with one line naming the element and
the file: delays, rate rules, algebraic rules, constraints, event priorities, events that assign
parameters or compartments, reversible or fast reactions, non-integer or variable stoichiometry,
conversion factors, rate laws that depend on time, and every SBML Level 3 package (``distrib``, ``comp``,
``fbc``, ...).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import libsbml
import numpy as np
import torch

from engine.errors import ConfigError
from ssa.kinetic_model import NAMESPACE, Event, KineticModel
from ssa.sbml_math import MathWriter

SBML_SUFFIXES = (".xml", ".sbml")


def read_sbml(path: str | Path) -> KineticModel:
    """The model in an SBML file; anything it cannot simulate exactly is one :class:`ConfigError` line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such SBML file")
    head = path.read_bytes()[:4096].decode("utf-8", "replace")
    if not re.search(r"<(\w+:)?sbml[\s>]", head):
        raise ConfigError(f"{path}: not an SBML document (no <sbml> element at its start); give an SBML file, or a "
                          "network YAML")
    doc = libsbml.readSBMLFromFile(str(path))
    errors = [doc.getError(i) for i in range(doc.getNumErrors())
              if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
    if errors:
        e = errors[0]
        detail = " ".join(e.getMessage().split())
        detail = detail if len(detail) <= 300 else detail[:300].rsplit(" ", 1)[0] + " ..."
        raise ConfigError(f"{path}, line {e.getLine()}: not valid SBML ({detail}); fix the file and run again")
    return _Importer(doc, path).model()


class _Importer:
    def __init__(self, doc, path: Path) -> None:
        self.doc, self.path = doc, path
        self.m = doc.getModel()
        if self.m is None:
            raise ConfigError(f"{path}: the SBML document has no <model>")

    def refuse(self, what: str, fix: str = "") -> ConfigError:
        return ConfigError(f"{self.path}: {what} is not supported by this simulator{'; ' + fix if fix else ''}")

    def model(self) -> KineticModel:
        m = self.m
        self._check_unsupported()
        self.functions = {f.getId(): f.getMath() for f in m.getListOfFunctionDefinitions()}
        self.size = {c.getId(): c.getSize() if c.isSetSize() else 1.0 for c in m.getListOfCompartments()}
        self.params = {p.getId(): p.getValue() if p.isSetValue() else float("nan") for p in m.getListOfParameters()}
        self.rules = {r.getVariable(): r.getMath() for r in m.getListOfRules() if r.isAssignment()}
        species = [s for s in m.getListOfSpecies()]
        if not species:
            raise ConfigError(f"{self.path}: the model has no species; there is nothing to count")
        self.state = [s for s in species if s.getId() not in self.rules]  # a species given by a rule is an output
        self.row = {s.getId(): i for i, s in enumerate(self.state)}
        self.amount = {s.getId(): float(s.getInitialAmount()) if s.isSetInitialAmount() else float("nan")
                       for s in self.state}
        self.substance = {s.getId(): s.getHasOnlySubstanceUnits() for s in species}
        self.compartment = {s.getId(): s.getCompartment() for s in species}
        self._initial_values()
        symbols = self._symbols()
        R, S = m.getNumReactions(), len(self.state)
        reactants, change = np.zeros((R, S)), np.zeros((R, S))
        laws, names = [], []
        for mu, r in enumerate(m.getListOfReactions()):
            where = f"{self.path}: the kinetic law of reaction {r.getId()!r}"
            if r.getReversible():
                raise self.refuse(f"the reversible reaction {r.getId()!r} (its law is a net rate, not a propensity)",
                                  "write it as two irreversible reactions, each with its own law")
            if r.isSetFast() and r.getFast():
                raise self.refuse(f"the fast reaction {r.getId()!r}")
            for side, sign in ((r.getListOfReactants(), -1.0), (r.getListOfProducts(), 1.0)):
                for ref in side:
                    k = self._stoichiometry(r, ref)
                    sid = ref.getSpecies()
                    if sid in self.rules:
                        raise self.refuse(f"reaction {r.getId()!r} changing {sid!r}, which an assignment rule sets")
                    if sign < 0:
                        reactants[mu, self.row[sid]] += k
                    if not self._fixed(sid):
                        change[mu, self.row[sid]] += sign * k
            law = r.getKineticLaw()
            if law is None or law.getMath() is None:
                raise ConfigError(f"{self.path}: reaction {r.getId()!r} has no kinetic law; give one (its propensity)")
            local = {p.getId(): repr(float(p.getValue())) for p in law.getListOfParameters()}
            writer = MathWriter({**symbols, **local}, self.functions, where)
            laws.append(writer.write(law.getMath()))
            if writer.uses_time:
                raise self.refuse(f"the time-dependent kinetic law of reaction {r.getId()!r}",
                                  "the direct method needs propensities that are constant between events")
            names.append(r.getId())
        outputs = tuple((v, symbols[v]()[0]) for v in self.rules)
        events = tuple(self._event(e, symbols) for e in m.getListOfEvents())
        return KineticModel(m.getId() or self.path.stem, tuple(s.getId() for s in self.state),
                            tuple(self.amount[s.getId()] for s in self.state), tuple(names), reactants, change,
                            tuple(laws), outputs, events, str(self.path))

    def _check_unsupported(self) -> None:
        m, doc = self.m, self.doc
        ns = doc.getNamespaces()
        for i in range(ns.getLength()):  # a Level 3 package declares its own namespace: .../level3/version1/<name>/version1
            uri = ns.getURI(i)
            if uri.startswith("http://www.sbml.org/sbml/level3/") and not uri.endswith("/core"):
                raise self.refuse(f"the SBML Level 3 package {uri.rstrip('/').split('/')[-2]!r} ({uri})")
        for r in m.getListOfRules():
            if r.isRate():
                raise self.refuse(f"the rate rule for {r.getVariable()!r}", "a stochastic simulation changes amounts "
                                  "only through reactions and events")
            if r.isAlgebraic():
                raise self.refuse("an algebraic rule")
        if m.getNumConstraints():
            raise self.refuse(f"the constraint {m.getConstraint(0).getMetaId() or '(first)'} (constraints)")
        if m.isSetConversionFactor() or any(s.isSetConversionFactor() for s in m.getListOfSpecies()):
            raise self.refuse("a conversion factor")
        for e in m.getListOfEvents():
            if e.isSetDelay():
                raise self.refuse(f"the delay of event {e.getId()!r} (delayed events)")
            if e.isSetPriority():
                raise self.refuse(f"the priority of event {e.getId()!r} (event priorities)")

    def _stoichiometry(self, r, ref) -> float:
        if ref.isSetStoichiometryMath() if hasattr(ref, "isSetStoichiometryMath") else False:
            raise self.refuse(f"the stoichiometryMath of {ref.getSpecies()!r} in reaction {r.getId()!r}")
        if ref.isSetId() and (ref.getId() in self.rules or any(
                a.getVariable() == ref.getId() for e in self.m.getListOfEvents() for a in e.getListOfEventAssignments())):
            raise self.refuse(f"the variable stoichiometry {ref.getId()!r} in reaction {r.getId()!r}")
        k = ref.getStoichiometry() if (ref.isSetStoichiometry() or self.doc.getLevel() < 3) else 1.0
        if not (k >= 0 and k == round(k)):
            raise self.refuse(f"the stoichiometry {k:g} of {ref.getSpecies()!r} in reaction {r.getId()!r} "
                              "(molecules change by whole numbers)")
        return float(k)

    def _fixed(self, sid: str) -> bool:
        s = self.m.getSpecies(sid)
        return s.getBoundaryCondition() or s.getConstant()

    def _species_source(self, sid: str) -> str:
        i = self.row[sid]
        return f"x[{i}]" if self.substance[sid] else f"(x[{i}] / {self.size[self.compartment[sid]]!r})"

    def _symbols(self) -> dict:
        symbols: dict = {c: repr(float(v)) for c, v in self.size.items()}
        symbols.update({p: repr(float(v)) for p, v in self.params.items()})
        symbols.update({s: self._species_source(s) for s in self.row})
        for var, node in self.rules.items():  # inlined where used, written once (rules may use rules)
            symbols[var] = self._rule(var, node, symbols)
        return symbols

    def _rule(self, var: str, node, symbols: dict):
        memo: dict = {}

        def source():
            if "value" not in memo:
                if memo.get("busy"):
                    raise ConfigError(f"{self.path}: the assignment rules for {var!r} depend on each other in a cycle")
                memo["busy"] = True
                writer = MathWriter(symbols, self.functions, f"{self.path}: the assignment rule for {var!r}")
                memo["value"] = (f"({writer.write(node)})", writer.uses_time, writer.uses_state)
            return memo["value"]
        return source

    def _initial_values(self) -> None:
        """Initial values: the attributes, then the initial assignments (with assignment rules holding at
        t = 0), solved by repeated passes because SBML's initial assignments may use one another in any
        order; an initial concentration becomes an amount with its compartment's final size."""
        conc = {s.getId(): s.getInitialConcentration() for s in self.state
                if not s.isSetInitialAmount() and s.isSetInitialConcentration()}
        ias = [(ia.getSymbol(), ia.getMath()) for ia in self.m.getListOfInitialAssignments()]
        for var, _ in ias:
            if var not in self.amount and var not in self.size and var not in self.params:
                raise self.refuse(f"the initial assignment to {var!r}")
            conc.pop(var, None)
        for _ in range(len(ias) + 1):
            symbols = {c: repr(float(v)) for c, v in self.size.items()}
            symbols.update({p: repr(float(v)) for p, v in self.params.items()})
            for sid in self.amount:
                amount = conc[sid] * self.size[self.compartment[sid]] if sid in conc else self.amount[sid]
                symbols[sid] = repr(amount if self.substance[sid] else amount / self.size[self.compartment[sid]])
            for var, node in self.rules.items():
                symbols[var] = self._rule(var, node, symbols)
            before = (dict(self.amount), dict(self.size), dict(self.params))
            for var, node in ias:
                writer = MathWriter(symbols, self.functions, f"{self.path}: the initial assignment to {var!r}")
                value = float(eval(writer.write(node), dict(NAMESPACE),  # noqa: S307 (source written here)
                                   {"x": torch.zeros(1, 1, dtype=torch.float64), "t": 0.0}))
                if var in self.amount:
                    self.amount[var] = value if self.substance[var] else value * self.size[self.compartment[var]]
                elif var in self.size:
                    self.size[var] = value
                else:
                    self.params[var] = value
            if before == (self.amount, self.size, self.params) or not ias:
                break
        else:
            raise ConfigError(f"{self.path}: the initial assignments depend on each other in a cycle; break it")
        for sid, c in conc.items():
            self.amount[sid] = c * self.size[self.compartment[sid]]
        for sid, a in self.amount.items():  # 1.1 per litre in 100 litres is 110.00000000000001 molecules: 110
            if a == a and abs(a - round(a)) <= 1e-9 * max(1.0, abs(a)):
                self.amount[sid] = float(round(a))
        missing = [s for s, a in self.amount.items() if a != a]
        if missing:
            raise ConfigError(f"{self.path}: species {missing} have no initial amount or concentration; give one")
        unset = [p for p, v in self.params.items() if v != v and p not in self.rules]
        if unset:
            raise ConfigError(f"{self.path}: parameters {unset} have no value; give each a value (or an initial "
                              "assignment or an assignment rule)")

    def _event(self, e, symbols: dict) -> Event:
        name = e.getId() or "(unnamed)"
        trig = e.getTrigger()
        if trig is None or trig.getMath() is None:
            raise ConfigError(f"{self.path}: event {name!r} has no trigger; give one")
        at_time = self._timed(trig.getMath(), symbols, name)
        trigger = None
        if at_time is None:
            writer = MathWriter(symbols, self.functions, f"{self.path}: the trigger of event {name!r}")
            trigger = writer.write(trig.getMath())
            if writer.uses_time:
                raise self.refuse(f"the trigger of event {name!r} ({libsbml.formulaToL3String(trig.getMath())})",
                                  "a trigger must be `time >= T` or a condition on the species alone")
        assignments = []
        for a in e.getListOfEventAssignments():
            var = a.getVariable()
            if var not in self.row:
                raise self.refuse(f"event {name!r} assigning {var!r}", "events may assign species only")
            if self._fixed(var) and self.m.getSpecies(var).getConstant():
                raise ConfigError(f"{self.path}: event {name!r} assigns the constant species {var!r}")
            value = MathWriter(symbols, self.functions, f"{self.path}: the assignment to {var!r} in event {name!r}"
                               ).write(a.getMath())
            if not self.substance[var]:  # the value is a concentration: the state holds amounts
                value = f"({value} * {self.size[self.compartment[var]]!r})"
            assignments.append((self.row[var], value))
        # Level 2 has no initialValue: its triggers count as true before t = 0 (an event true at the start waits)
        initial = trig.getInitialValue() if self.doc.getLevel() >= 3 and trig.isSetInitialValue() else True
        return Event(name, trigger, tuple(assignments), at_time, bool(initial))

    def _timed(self, node, symbols: dict, name: str) -> float | None:
        """``T`` when the trigger is ``time >= T`` / ``time > T`` / ``T <= time`` / ``T < time`` with ``T`` constant."""
        kind = node.getType()
        if node.getNumChildren() != 2 or kind not in (libsbml.AST_RELATIONAL_GEQ, libsbml.AST_RELATIONAL_GT,
                                                       libsbml.AST_RELATIONAL_LEQ, libsbml.AST_RELATIONAL_LT):
            return None
        left_time = kind in (libsbml.AST_RELATIONAL_GEQ, libsbml.AST_RELATIONAL_GT)
        time_node, other = (node.getChild(0), node.getChild(1)) if left_time else (node.getChild(1), node.getChild(0))
        if time_node.getType() != libsbml.AST_NAME_TIME:
            return None
        writer = MathWriter(symbols, self.functions, f"{self.path}: the trigger of event {name!r}")
        src = writer.write(other)
        if writer.uses_time or writer.uses_state:
            return None
        at = float(eval(src, dict(NAMESPACE), {"x": torch.zeros(1, 1, dtype=torch.float64), "t": 0.0}))  # noqa: S307
        strict = kind in (libsbml.AST_RELATIONAL_GT, libsbml.AST_RELATIONAL_LT)
        return math.nextafter(at, math.inf) if strict else at  # `time > T` turns true just after T
