"""Input kinds.  Each entry: the class implementing ``sources.base.Source`` and the
file-name endings that make it worth importing (imports stay lazy so a
pre-commit run on one ``.tf`` file never loads the YAML or Helm readers)."""
from __future__ import annotations



def any_case(*suffixes: str) -> tuple:
    """Every upper/lower-case spelling of ``suffixes`` (``pod.YAML`` and ``pod.Yml`` are manifests too)."""
    from itertools import product

    out = []
    for suffix in suffixes:
        out += ["".join(p) for p in product(*({c.lower(), c.upper()} for c in suffix))]
    return tuple(sorted(set(out)))


MANIFEST_SUFFIXES = any_case(".yaml", ".yml", ".json")

# Order matters: a source claims its files, later sources do not see them.  Kubernetes objects are
# found by content in YAML and JSON files of any letter case (after the plan reader has taken its JSON).
# Terraform comes before Helm: a local chart that a helm_release renders is claimed there and judged once,
# through the release (its values are what is deployed), not a second time with the chart's defaults.
SOURCES = [
    ("tagguard.sources.terraform.source:TerraformSource", (".tf", ".tf.json", ".tfvars")),
    ("tagguard.sources.kubernetes.helm:HelmSource", ("Chart.yaml",)),
    ("tagguard.sources.terraform.plan:PlanSource", (".json",)),
    ("tagguard.sources.kubernetes.source:KubernetesSource", MANIFEST_SUFFIXES + ("<stdin>",)),
]
