"""Input kinds.  Each entry: the class implementing ``sources.base.Source`` and the
file-name endings that make it worth importing (imports stay lazy so a
pre-commit run on one ``.tf`` file never loads the YAML or Helm readers)."""
from __future__ import annotations

# Order matters: a source claims its files, later sources do not see them.
SOURCES = [
    ("tagguard.sources.helm:HelmSource", ("Chart.yaml",)),
    ("tagguard.sources.terraform.source:TerraformSource", (".tf", ".tf.json", ".tfvars")),
    ("tagguard.sources.plan:PlanSource", (".json",)),
    ("tagguard.sources.kubernetes:KubernetesSource", (".yaml", ".yml", "<stdin>")),
]
