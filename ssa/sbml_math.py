"""SBML MathML (a libsbml AST) written as Python source over torch, for :class:`~ssa.kinetic_model.KineticModel`.

The source is evaluated for a whole batch of trajectories at once: a species is a row ``x[i]`` of
the ``(S, B)`` state, time is ``t`` (``(B,)``), constants are numbers. Each node type maps to one
torch operation (``piecewise`` to ``torch.where``, relations to comparisons, ``and`` / ``or`` to
logical ops); function definitions are inlined with their arguments substituted. A node this
module does not know (``delay``, ``rateOf``, the ``distrib`` package's draws, MathML outside SBML's
subset) is refused with one line naming it and where it was found.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import libsbml

from engine.errors import ConfigError

# one-argument functions: libsbml type -> source template over the argument ``a``
_UNARY = {
    libsbml.AST_FUNCTION_EXP: "torch.exp({a})", libsbml.AST_FUNCTION_LN: "torch.log({a})",
    libsbml.AST_FUNCTION_ABS: "torch.abs({a})", libsbml.AST_FUNCTION_FLOOR: "torch.floor({a})",
    libsbml.AST_FUNCTION_CEILING: "torch.ceil({a})", libsbml.AST_FUNCTION_SIN: "torch.sin({a})",
    libsbml.AST_FUNCTION_COS: "torch.cos({a})", libsbml.AST_FUNCTION_TAN: "torch.tan({a})",
    libsbml.AST_FUNCTION_ARCSIN: "torch.asin({a})", libsbml.AST_FUNCTION_ARCCOS: "torch.acos({a})",
    libsbml.AST_FUNCTION_ARCTAN: "torch.atan({a})", libsbml.AST_FUNCTION_SINH: "torch.sinh({a})",
    libsbml.AST_FUNCTION_COSH: "torch.cosh({a})", libsbml.AST_FUNCTION_TANH: "torch.tanh({a})",
    libsbml.AST_FUNCTION_ARCSINH: "torch.asinh({a})", libsbml.AST_FUNCTION_ARCCOSH: "torch.acosh({a})",
    libsbml.AST_FUNCTION_ARCTANH: "torch.atanh({a})", libsbml.AST_FUNCTION_SEC: "(1.0 / torch.cos({a}))",
    libsbml.AST_FUNCTION_CSC: "(1.0 / torch.sin({a}))", libsbml.AST_FUNCTION_COT: "(1.0 / torch.tan({a}))",
    libsbml.AST_FUNCTION_FACTORIAL: "torch.round(torch.exp(torch.lgamma({a} + 1.0)))",  # n! of a whole n
    libsbml.AST_LOGICAL_NOT: "torch.logical_not({a})",
}
_RELATIONS = {libsbml.AST_RELATIONAL_EQ: "==", libsbml.AST_RELATIONAL_NEQ: "!=", libsbml.AST_RELATIONAL_GT: ">",
              libsbml.AST_RELATIONAL_GEQ: ">=", libsbml.AST_RELATIONAL_LT: "<", libsbml.AST_RELATIONAL_LEQ: "<="}
_LOGICAL = {libsbml.AST_LOGICAL_AND: "torch.logical_and", libsbml.AST_LOGICAL_OR: "torch.logical_or",
            libsbml.AST_LOGICAL_XOR: "torch.logical_xor"}
_REFUSED = {libsbml.AST_FUNCTION_DELAY: "delay (csymbol delay)", libsbml.AST_FUNCTION_RATE_OF: "rateOf (csymbol rateOf)",
            libsbml.AST_LAMBDA: "a lambda outside a function definition"}


def type_name(node) -> str:
    """A readable name for an AST node's type (``AST_FUNCTION_DELAY`` -> ``delay``)."""
    names = {getattr(libsbml, n): n for n in dir(libsbml) if n.startswith("AST_")}
    return names.get(node.getType(), str(node.getType())).removeprefix("AST_").removeprefix("FUNCTION_").lower()


class MathWriter:
    """Writes AST nodes as torch source.

    ``symbols`` maps an SBML id to its source (``"x[0]"``, ``"(x[0] / 2.0)"``, ``"0.1"``) or to a
    callable giving it lazily (an assignment rule's expression, written on first use); ``functions``
    maps a function definition's id to its lambda node. ``where`` names the element for messages.
    After :meth:`write`, ``uses_time`` and ``uses_state`` say what the expression read.
    """

    def __init__(self, symbols: Mapping[str, str | Callable[[], tuple[str, bool, bool]]],
                 functions: Mapping[str, object], where: str) -> None:
        self.symbols, self.functions, self.where = symbols, functions, where
        self.uses_time = self.uses_state = False

    def write(self, node, bound: Mapping[str, str] | None = None) -> str:
        if node is None:
            raise ConfigError(f"{self.where}: the math is missing or does not parse; write it as MathML")
        return self._node(node, dict(bound or {}))

    def _node(self, node, bound: dict[str, str]) -> str:  # noqa: C901 (one branch per node kind)
        kind, kids = node.getType(), [node.getChild(i) for i in range(node.getNumChildren())]
        arg = [self._node(k, bound) for k in kids] if kind != libsbml.AST_FUNCTION_PIECEWISE else None
        if kind in _REFUSED:
            raise ConfigError(f"{self.where} uses {_REFUSED[kind]}, which this simulator does not support; "
                              "remove it from the model")
        if kind == libsbml.AST_INTEGER:
            return repr(float(node.getInteger()))
        if kind in (libsbml.AST_REAL, libsbml.AST_REAL_E):
            v = node.getReal()
            return repr(v) if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "(-inf)"))
        if kind == libsbml.AST_RATIONAL:
            return repr(node.getNumerator() / node.getDenominator())
        if kind == libsbml.AST_NAME:
            return self._name(node.getName(), bound)
        if kind == libsbml.AST_NAME_TIME:
            self.uses_time = True
            return "t"
        if kind == libsbml.AST_NAME_AVOGADRO:
            return "6.02214076e+23"
        if kind in (libsbml.AST_CONSTANT_E, libsbml.AST_CONSTANT_PI):
            return repr(math.e if kind == libsbml.AST_CONSTANT_E else math.pi)
        if kind in (libsbml.AST_CONSTANT_TRUE, libsbml.AST_CONSTANT_FALSE):
            return "True" if kind == libsbml.AST_CONSTANT_TRUE else "False"
        if kind == libsbml.AST_PLUS:
            return "(" + " + ".join(arg) + ")" if arg else "0.0"
        if kind == libsbml.AST_TIMES:
            return "(" + " * ".join(arg) + ")" if arg else "1.0"
        if kind == libsbml.AST_MINUS:
            return f"(-{arg[0]})" if len(arg) == 1 else f"({arg[0]} - {arg[1]})"
        if kind == libsbml.AST_DIVIDE:
            return f"({arg[0]} / {arg[1]})"
        if kind in (libsbml.AST_POWER, libsbml.AST_FUNCTION_POWER):
            return f"({arg[0]} ** {arg[1]})"
        if kind == libsbml.AST_FUNCTION_ROOT:  # root(n, a) = a ** (1 / n); one argument: the square root
            return f"({arg[-1]} ** (1.0 / {arg[0]}))" if len(arg) == 2 else f"({arg[0]} ** 0.5)"
        if kind == libsbml.AST_FUNCTION_LOG:  # log(b, a); one argument: base 10
            return f"(_log(x, {arg[-1]}) / math.log({arg[0]}))" if len(arg) == 2 else f"(_log(x, {arg[0]}) / math.log(10.0))"
        if kind in _UNARY:
            return _UNARY[kind].format(a=f"_tensor({arg[0]}, x)")
        if kind in (libsbml.AST_FUNCTION_MAX, libsbml.AST_FUNCTION_MIN):
            op = "torch.maximum" if kind == libsbml.AST_FUNCTION_MAX else "torch.minimum"
            out = f"_tensor({arg[0]}, x)"
            for a in arg[1:]:
                out = f"{op}({out}, _tensor({a}, x))"
            return out
        if kind == libsbml.AST_FUNCTION_QUOTIENT:
            return f"torch.floor(_tensor({arg[0]}, x) / {arg[1]})"
        if kind == libsbml.AST_FUNCTION_REM:
            return f"torch.fmod(_tensor({arg[0]}, x), {arg[1]})"
        if kind in _RELATIONS:  # n-ary in SBML Level 3: a < b < c is (a < b) and (b < c)
            pairs = [f"(_tensor({a}, x) {_RELATIONS[kind]} {b})" for a, b in zip(arg, arg[1:])]
            return pairs[0] if len(pairs) == 1 else "_all(x, " + ", ".join(pairs) + ")"
        if kind in _LOGICAL:
            out = f"_tensor({arg[0]}, x).bool()" if arg else "True"
            for a in arg[1:]:
                out = f"{_LOGICAL[kind]}({out}, _tensor({a}, x).bool())"
            return out
        if kind == libsbml.AST_FUNCTION_PIECEWISE:  # value1, condition1, value2, condition2, ..., [otherwise]
            parts = [self._node(k, bound) for k in kids]
            out = parts[-1] if len(parts) % 2 else "nan"
            for i in range(len(parts) - 1 - len(parts) % 2, 0, -2):
                out = f"_where({parts[i]}, {parts[i - 1]}, {out}, x)"
            return out
        if kind == libsbml.AST_FUNCTION:
            return self._call(node.getName(), arg)
        raise ConfigError(f"{self.where} uses the MathML element {type_name(node)!r} "
                          f"({libsbml.formulaToL3String(node)}), which this simulator does not support")

    def _name(self, name: str, bound: dict[str, str]) -> str:
        if name in bound:
            return bound[name]
        if name not in self.symbols:
            raise ConfigError(f"{self.where} names an unknown symbol {name!r}; declare it as a species, "
                              "compartment or parameter (or a local parameter of the reaction)")
        value = self.symbols[name]
        if callable(value):
            value, uses_time, uses_state = value()
            self.uses_time |= uses_time
            self.uses_state |= uses_state
        elif "x[" in value:
            self.uses_state = True
        return value

    def _call(self, name: str, args: list[str]) -> str:
        lam = self.functions.get(name)
        if lam is None:
            raise ConfigError(f"{self.where} calls an unknown function {name!r}; define it under listOfFunctionDefinitions")
        n = lam.getNumChildren() - 1  # the lambda's children: its arguments (bvar), then its body
        if n != len(args):
            raise ConfigError(f"{self.where} calls {name!r} with {len(args)} arguments; its definition takes {n}")
        names = [lam.getChild(i).getName() for i in range(n)]
        return "(" + self._node(lam.getChild(n), dict(zip(names, [f"({a})" for a in args]))) + ")"
