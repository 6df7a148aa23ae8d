"""SBML import: every DSMTS case in both SBML levels, the math writer against plain Python, and refusals."""

from __future__ import annotations

import math

import libsbml
import numpy as np
import pytest
import torch

from engine.errors import ConfigError
from ssa.kinetic_model import KineticModel
from ssa.reaction_network import load_network
from ssa.sbml_import import read_sbml
from ssa.sbml_math import MathWriter
from ssa.sbml_suite import SUITE_DIR, case_numbers

CASES = case_numbers()
CASE1 = SUITE_DIR / "00001" / "00001-sbml-l3v2.xml"


def propensities(model: KineticModel, states) -> np.ndarray:
    x = torch.tensor(states, dtype=torch.float64).T.contiguous()
    return model.propensities(x, torch.zeros(x.shape[1], dtype=torch.float64)).T.numpy()


def test_the_suite_has_39_cases_with_both_levels():
    assert CASES == [f"{i:05d}" for i in range(1, 40)]
    assert all((SUITE_DIR / c / f"{c}-sbml-{lv}.xml").is_file() for c in CASES for lv in ("l3v2", "l2v4"))


@pytest.mark.parametrize("case", CASES)
def test_both_levels_import_to_the_same_model(case):
    a, b = (read_sbml(SUITE_DIR / case / f"{case}-sbml-{lv}.xml") for lv in ("l3v2", "l2v4"))
    assert a.species == b.species and a.initial == b.initial
    np.testing.assert_array_equal(a.change, b.change)
    np.testing.assert_array_equal(a.reactants, b.reactants)
    states = np.arange(a.num_species * 7).reshape(7, a.num_species) * 3.0 + 1
    np.testing.assert_allclose(propensities(a, states), propensities(b, states), rtol=1e-12)
    assert [(e.at_time, e.assignments) for e in a.events] == [(e.at_time, e.assignments) for e in b.events]


def test_birth_death_and_its_variants_read_as_the_post_would_write_them():
    m = read_sbml(CASE1)  # Birth X -> 2X (Lambda X), Death X -> 0 (Mu X), X = 100
    assert m.species == ("X",) and m.initial == (100.0,)
    np.testing.assert_array_equal(m.change, [[1.0], [-1.0]])
    np.testing.assert_array_equal(m.reactants, [[1.0], [1.0]])
    np.testing.assert_allclose(propensities(m, [[100.0], [7.0]]), [[10.0, 11.0], [0.7, 0.77]])
    # 00011: hasOnlySubstanceUnits false in a compartment of size 2: X in the law is the concentration X / 2
    m11 = read_sbml(SUITE_DIR / "00011" / "00011-sbml-l3v2.xml")
    np.testing.assert_allclose(propensities(m11, [[100.0]]), [[5.0, 5.5]])
    # 00030: dimerisation 2P -> P2 with law k1 P (P - 1) / 2
    m30 = read_sbml(SUITE_DIR / "00030" / "00030-sbml-l3v2.xml")
    np.testing.assert_allclose(propensities(m30, [[100.0, 3.0]]), [[0.001 * 100 * 99 / 2, 0.01 * 3]])
    np.testing.assert_array_equal(m30.change, [[-2.0, 1.0], [2.0, -1.0]])


def test_boundary_species_are_read_but_never_changed():
    m = read_sbml(SUITE_DIR / "00006" / "00006-sbml-l3v2.xml")  # Sink is a boundary species
    assert m.change[:, m.index("Sink")].tolist() == [0.0, 0.0]
    m7 = read_sbml(SUITE_DIR / "00007" / "00007-sbml-l3v2.xml")  # the same, Sink not a boundary: it counts deaths
    assert m7.change[:, m7.index("Sink")].tolist() == [0.0, 1.0]


def test_rules_and_events_are_read():
    m = read_sbml(SUITE_DIR / "00019" / "00019-sbml-l3v2.xml")  # y = 2 X
    counts = torch.tensor([[[3], [5]]])
    assert m.observe(counts, torch.tensor([0.0, 1.0]))["y"].tolist() == [[6.0, 10.0]]
    (e,) = read_sbml(SUITE_DIR / "00028" / "00028-sbml-l3v2.xml").events  # at t >= 25: X = 50
    assert (e.at_time, e.trigger, e.initial_value) == (25.0, None, False)
    (e,) = read_sbml(SUITE_DIR / "00033" / "00033-sbml-l3v2.xml").events  # when P2 > 30: P = 100, P2 = 0
    assert e.at_time is None and e.trigger is not None


def test_a_mass_action_network_and_its_model_have_the_same_propensities():
    net = load_network("dimerisation")
    m = KineticModel.from_network(net)
    states = np.array([[301, 0], [10, 3], [1, 1], [0, 5]])
    np.testing.assert_allclose(propensities(m, states.astype(float)), net.propensities(states), rtol=1e-14)


FORMULAS = [  # SBML L3 infix -> the value at X = 3, Y = 0.5 (plain Python)
    ("X * Y + 2", 3 * 0.5 + 2), ("-X", -3.0), ("X ^ 2 / 4", 9 / 4), ("exp(Y) + ln(X)", math.exp(0.5) + math.log(3)),
    ("log10(X * 100)", math.log10(300)), ("log(2, 8)", 3.0), ("root(3, 27)", 3.0), ("sqrt(X + 1)", 2.0),
    ("abs(Y - X)", 2.5), ("floor(X / 2) + ceil(Y)", 2.0), ("factorial(X)", 6.0), ("max(X, Y, 7)", 7.0),
    ("min(X, Y)", 0.5), ("piecewise(1, X > 2, 5)", 1.0), ("piecewise(1, X > 4, 2, Y < 1, 5)", 2.0),
    ("piecewise(1, X > 4, 5)", 5.0), ("(X >= 3) && (Y < 0.1)", 0.0), ("(X >= 3) || (Y < 0.1)", 1.0),
    ("!(X == 3)", 0.0), ("xor(X > 1, Y > 1)", 1.0), ("sin(Y) ^ 2 + cos(Y) ^ 2", 1.0), ("tanh(Y)", math.tanh(0.5)),
    ("quotient(7, X)", 2.0), ("rem(7, X)", 1.0), ("pi * exponentiale", math.pi * math.e), ("f(X, Y)", 3 - 2 * 0.5),
]


@pytest.mark.parametrize("formula, value", FORMULAS)
def test_math_writer_against_plain_python(formula, value):
    node = libsbml.parseL3Formula(formula)
    assert node is not None, libsbml.getLastParseL3Error()
    fdef = libsbml.parseL3Formula("lambda(a, b, a - 2 * b)")
    src = MathWriter({"X": "x[0]", "Y": "x[1]"}, {"f": fdef}, "test").write(node)
    model = KineticModel("m", ("X", "Y"), (0.0, 0.0), ("r",), np.zeros((1, 2)), np.zeros((1, 2)), (src,))
    got = model.propensities(torch.tensor([[3.0, 3.0], [0.5, 0.5]], dtype=torch.float64), torch.zeros(2))
    assert got.shape == (1, 2) and torch.allclose(got[0], torch.tensor([float(value)] * 2, dtype=torch.float64))


def _edit(tmp_path, source, old, new, name="edited.xml"):
    text = source.read_text()
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1))
    return path


LAW = "<ci> Lambda </ci>"
MATH = '<math xmlns="http://www.w3.org/1998/Math/MathML">'
REFUSALS = [  # (case, old text, new text, words in the one line)
    ("00001", LAW, "<ci> Lambda2 </ci>", "names an unknown symbol 'Lambda2'"),
    ("00001", LAW, "<apply><csymbol encoding=\"text\" definitionURL=\"http://www.sbml.org/sbml/symbols/delay\"> d "
     "</csymbol><ci> Lambda </ci><cn> 1 </cn></apply>", "uses delay"),
    ("00001", LAW, "<apply><times/><ci> Lambda </ci><csymbol encoding=\"text\" "
     "definitionURL=\"http://www.sbml.org/sbml/symbols/time\"> t </csymbol></apply>", "time-dependent kinetic law"),
    ("00001", "</listOfReactions>", f"</listOfReactions><listOfRules><rateRule variable=\"Lambda\">{MATH}<cn> 1 </cn>"
     "</math></rateRule></listOfRules>", "rate rule for 'Lambda'"),
    ("00001", "</listOfReactions>", f"</listOfReactions><listOfRules><algebraicRule>{MATH}<apply><minus/><ci> Mu </ci>"
     "<ci> Lambda </ci></apply></math></algebraicRule></listOfRules>", "algebraic rule"),
    ("00028", "<listOfEventAssignments>", f"<delay>{MATH}<cn> 1 </cn></math></delay><listOfEventAssignments>",
     "the delay of event 'reset'"),
    ("00028", "<listOfEventAssignments>", f"<priority>{MATH}<cn> 1 </cn></math></priority><listOfEventAssignments>",
     "the priority of event 'reset'"),
    ("00028", 'eventAssignment variable="X"', 'eventAssignment variable="Lambda"', "event 'reset' assigning 'Lambda'"),
    ("00001", 'reaction id="Birth" reversible="false"', 'reaction id="Birth" reversible="true"',
     "the reversible reaction 'Birth'"),
    ("00001", 'species="X" stoichiometry="2"', 'species="X" stoichiometry="1.5"', "the stoichiometry 1.5"),
    ("00001", '<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">',
     '<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2" '
     'xmlns:distrib="http://www.sbml.org/sbml/level3/version1/distrib/version1" distrib:required="true">',
     "package 'distrib'"),
]


@pytest.mark.parametrize("case, old, new, words", REFUSALS)
def test_unsupported_elements_are_refused_in_one_line_naming_the_file(case, old, new, words, tmp_path):
    path = _edit(tmp_path, SUITE_DIR / case / f"{case}-sbml-l3v2.xml", old, new)
    with pytest.raises(ConfigError) as e:
        read_sbml(path)
    message = str(e.value)
    assert words in message and str(path) in message and "\n" not in message


def test_malformed_and_missing_files_are_one_line(tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text(CASE1.read_text()[:900])
    with pytest.raises(ConfigError, match=r"bad.xml, line \d+: not valid SBML"):
        read_sbml(bad)
    with pytest.raises(ConfigError, match="no such SBML file"):
        read_sbml(tmp_path / "none.xml")
    empty = tmp_path / "empty.xml"
    empty.write_text('<?xml version="1.0" encoding="UTF-8"?>'
                     '<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2"/>')
    with pytest.raises(ConfigError, match="no <model>"):
        read_sbml(empty)


def test_a_model_pickles_as_data_and_compiles_again():
    import pickle
    m = read_sbml(SUITE_DIR / "00033" / "00033-sbml-l3v2.xml")
    x = torch.tensor([[100.0], [40.0]], dtype=torch.float64)
    before = m.propensities(x, torch.zeros(1))
    again = pickle.loads(pickle.dumps(m))
    assert again._compiled == {} and torch.equal(again.propensities(x, torch.zeros(1)), before)


def _edits(tmp_path, case, *pairs):
    text = (SUITE_DIR / case / f"{case}-sbml-l3v2.xml").read_text()
    for old, new in pairs:
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / f"{case}-edited.xml"
    path.write_text(text)
    return path


SPECIES_X = 'initialAmount="100" hasOnlySubstanceUnits="true"'
PARAMS_END = '<parameter id="Mu" value="0.11" constant="true"/>'


def test_initial_values_from_concentrations_assignments_and_rules(tmp_path):
    """1.1 per unit in a compartment of size 100 is 110 molecules (not 110.00000000000001, refused); initial
    assignments are solved in any order; a rule's value holds at t = 0."""
    conc = _edits(tmp_path, "00001", (SPECIES_X, 'initialConcentration="1.1" hasOnlySubstanceUnits="true"'),
                  ('<compartment id="Cell" spatialDimensions="3"', '<compartment id="Cell" spatialDimensions="3" size="100"'))
    assert read_sbml(conc).initial == (110.0,)
    ia = (f"{MATH}<ci> n </ci></math></initialAssignment><initialAssignment symbol=\"n\">{MATH}<apply><times/>"
          "<cn> 2 </cn><ci> y </ci></apply></math>")
    ordered = _edits(tmp_path, "00001",
                     (PARAMS_END, PARAMS_END + '<parameter id="n" value="1" constant="true"/>'
                      '<parameter id="y" constant="false"/>'),
                     ("<listOfReactions>", f'<listOfInitialAssignments><initialAssignment symbol="X">{ia}'
                      f'</initialAssignment></listOfInitialAssignments><listOfRules><assignmentRule variable="y">{MATH}'
                      "<cn> 7 </cn></math></assignmentRule></listOfRules><listOfReactions>"))
    assert read_sbml(ordered).initial == (14.0,)  # X = n, listed first; n = 2 y; y = 7 by its rule


def test_time_greater_than_zero_fires_just_after_the_start_even_when_true_before(tmp_path):
    path = _edits(tmp_path, "00028", ('<trigger initialValue="false"', '<trigger initialValue="true"'),
                  ("<geq/>", "<gt/>"), ("<cn type=\"integer\"> 25 </cn>", "<cn type=\"integer\"> 0 </cn>"))
    from ssa.direct_method import simulate_direct
    traj = simulate_direct(read_sbml(path), torch.tensor([0.0, 1e-9], dtype=torch.float64), 20, seed=0)
    assert (traj.counts[:, 0, 0] == 0).all() and (traj.counts[:, 1, 0] == 50).all()


def test_a_parameter_without_value_a_model_without_species_and_a_non_sbml_file_are_one_line(tmp_path):
    unset = _edits(tmp_path, "00001", ('<parameter id="Lambda" value="0.1"', '<parameter id="Lambda"'))
    with pytest.raises(ConfigError, match=r"parameters \['Lambda'\] have no value"):
        read_sbml(unset)
    text = CASE1.read_text()
    empty = tmp_path / "empty_model.xml"
    start, stop = text.index("<listOfSpecies>"), text.index("</listOfReactions>") + len("</listOfReactions>")
    empty.write_text(text[:start] + text[stop:])
    with pytest.raises(ConfigError, match="no species"):
        read_sbml(empty)
    other = tmp_path / "other.xml"
    other.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<html><body/></html>\n')
    with pytest.raises(ConfigError, match="not an SBML document"):
        read_sbml(other)
