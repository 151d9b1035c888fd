"""SDG mapping: a transparent classifier of works against the 17 UN Sustainable Development Goals.

Three layers, each usable alone: our own queries per SDG target (``queries``), similarity to the UN goal
and target texts (``similarity``), and a per-SDG logistic combiner with readable weights (``combiner``).
``classify`` runs them on one text; ``store.score_store`` scores the store's works into ``sdg_scores``.
"""

from cordiale.sdg.classify import SdgResult, classify, classify_texts, model_version
from cordiale.sdg.text import WorkText

__all__ = ["SdgResult", "WorkText", "classify", "classify_texts", "model_version"]
