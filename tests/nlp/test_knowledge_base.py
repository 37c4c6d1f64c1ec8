from nlp.codeset import CodeSet
from nlp.knowledge_base import CrossReferences, index_terms


def row(path: str, code: str = "", see: str = "") -> dict[str, str]:
    return {"full_term_path": path, "code": code, "see": see, "see_also": ""}


REFERENCES = CrossReferences(
    [
        row("Obstruction, obstructed, obstructive"),
        row("Obstruction, obstructed, obstructive > intestine", "K56.609"),
        row("Abscess", "L02.91"),
        row("Abscess > upper"),
        row("Abscess > upper > limb", "L02.41-"),
        row("Trait > hemoglobin > abnormal NEC", "D58.2"),
        row("Otitis > media > acute, subacute > serous", "H65.0-"),
        row("Hyperkinesia", see="Disorder, hyperkinetic"),
        row("Disorder > hyperkinetic", see="Disorder, attention-deficit hyperactivity"),
        row("Disorder > attention-deficit hyperactivity", "F90.9"),
        row("Neoplasm, neoplastic"),
        row("Ulcer > pressure", "L89.9-"),
        row("Injury > pressure > injury", see="Ulcer, pressure, by site"),
    ]
)


def test_reference_names_a_main_term_by_its_first_form():
    assert REFERENCES.code("Obstruction, intestine") == "K56.609"


def test_reference_spans_the_levels_a_flattened_subterm_was_split_into():
    assert REFERENCES.code("Abscess, upper limb") == "L02.41-"


def test_reference_may_leave_out_nec():
    assert REFERENCES.code("Trait, hemoglobin, abnormal") == "D58.2"


def test_reference_reads_a_subterm_holding_commas():
    assert REFERENCES.code("Otitis, media, acute, subacute, serous") == "H65.0-"


def test_reference_follows_the_see_of_its_target():
    assert REFERENCES.code("Disorder, hyperkinetic") == "F90.9"


def test_reference_by_site_names_the_entry_whose_sites_follow():
    # "pressure injury - see Ulcer, pressure, by site": L89.9-, whose children are the sites
    assert REFERENCES.code("Ulcer, pressure, by site") == "L89.9-"


def test_reference_by_site_names_no_code():
    assert REFERENCES.code("Neoplasm, malignant, by site") == ""
    assert REFERENCES.code("condition") == ""


def test_an_entry_without_code_takes_the_subcategory_its_subentries_share(codeset: CodeSet):
    rows = [
        row("Disorder"),
        row("Disorder > tobacco use"),
        row("Disorder > tobacco use > mild", "F17.200"),
        row("Disorder > tobacco use > cigarettes > in remission", "F17.211"),
        row("Disorder > mixed"),
        row("Disorder > mixed > alpha", "F17.200"),
        row("Disorder > mixed > beta", "I10"),
    ]
    for r in rows:
        r["nemod"] = ""
    from nlp.knowledge_base import TermTokenizer
    from nlp.rule_files import load_term_stopwords

    terms = list(index_terms(rows, TermTokenizer(load_term_stopwords()), codeset))
    by_words = {tuple(sorted(w for g in t.groups for w in g)): t.code for t in terms}
    assert by_words[("disorder", "tobacco", "use")] == "F17.2"
    # a main term, and subentries sharing only a chapter, guess nothing
    assert ("disorder",) not in by_words and ("disorder", "mixed") not in by_words
