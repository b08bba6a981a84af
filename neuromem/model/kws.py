"""A kws model's audio side: rates from clips, word-by-word answers, streaming detection."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from neuromem.data.audio import FrontEnd, extract
from neuromem.exceptions import ConfigError
from neuromem.data.audio import fix_length
from neuromem.model.audio import (at_rate, in_context, read_clips, stream_segments,
                                  word_segments)
from neuromem.schema import build

__all__ = ["KWSInputs"]


class KWSInputs:
    """The front end, fitted normaliser and rate range of a kws model."""

    def __init__(self, model):
        from neuromem.tasks.kws import KWSFeatures, KWSReadout

        self.model = model
        cards = model.cards
        params = cards.get("dataset", {}).get("parameters", {})
        self.frontend = build(FrontEnd, params.get("front_end", {}), file=model.path,
                              section="cards.dataset.parameters.front_end")
        self.features = build(KWSFeatures, cards["resolved"]["features"], file=model.path,
                              section="cards.features")
        ro = {f.name: model.readout[f.name] for f in dataclasses.fields(KWSReadout)
              if f.name in model.readout}
        self.readout = build(KWSReadout, ro, file=model.path, section="model.readout")
        inp = model.inputs
        self.normalizer = {k: np.asarray(inp[k], dtype=np.float64)
                           for k in ("mean", "std", "low", "high")}
        #: median speech level of the training clips (dBFS): the automatic gain's target
        self.level_dbfs = float(inp.get("speech_level_dbfs", -26.0))

    def leveled(self, y: np.ndarray) -> np.ndarray:
        """``y`` (at the front end's rate) at the training speech level, when ``agc``."""
        if not self.readout.agc:
            return y
        from neuromem.data.audio import match_level
        return match_level(y, self.frontend.sample_rate_Hz, self.frontend, self.level_dbfs)

    # ------------------------------------------------------------------ features

    def logmel(self, waves, rates_Hz) -> np.ndarray:
        """(n, frames, mels) log-mel of waveforms at their rates (the training front end)."""
        fe = self.frontend
        if not len(waves):
            return np.zeros((0, fe.n_frames, fe.n_mels), np.float32)
        return np.stack([extract(x, sr, fe) for x, sr in zip(waves, rates_Hz)])

    def features_from_logmel(self, logmel: np.ndarray) -> np.ndarray:
        """The standardised, binned features (what the baselines see)."""
        from neuromem.tasks.kws import flat_features
        return flat_features(logmel, self.normalizer["mean"], self.normalizer["std"],
                             self.features)

    def rates_from_logmel(self, logmel: np.ndarray) -> np.ndarray:
        from neuromem.tasks.kws import rates_from_features
        return rates_from_features(self.features_from_logmel(logmel), self.normalizer,
                                   self.features)

    def rates(self, x, sample_rate_Hz=None) -> np.ndarray:
        """Rates of clips through the training path exactly (no automatic gain: see
        :meth:`clip_words` for the path of ``neuromem predict``)."""
        waves, srs = self._waves(x, sample_rate_Hz)
        return self.rates_from_logmel(self.logmel(waves, srs))

    def _waves(self, x, sample_rate_Hz):
        if isinstance(x, (str, Path)):
            x = [x]
        if isinstance(x, np.ndarray) and x.ndim == 1:
            x = [x]
        if isinstance(x, np.ndarray) and x.ndim == 2 and sample_rate_Hz is not None:
            x = list(x)
        items = list(x)
        if items and all(isinstance(i, (str, Path)) for i in items):
            clips, _, _ = read_clips(items)
            return [c[0] for c in clips], [c[1] for c in clips]
        if sample_rate_Hz is None:
            raise ConfigError("waveforms need sample_rate_Hz (or pass WAV paths)",
                              key="sample_rate_Hz")
        return [np.asarray(i, dtype=np.float32) for i in items], [int(sample_rate_Hz)] * len(items)

    # ------------------------------------------------------------------ words

    def _segments(self, y, floor=None):
        ro = self.readout
        return word_segments(y, self.frontend, gate_db=ro.gate_db, gap_s=ro.gap_s,
                             min_word_s=ro.min_word_s, floor=floor)

    def clip_words(self, x, sr):
        """The pieces of one clip to answer: the whole clip (the training path; a clip
        shorter than the window is first centred in one, as a recording with silence around
        the word would be) when it fits the window and holds at most one word, else each
        word on its own in its context (:func:`neuromem.model.audio.in_context`).

        Returns ``(pieces, spans)``: waveforms at the front end's rate and their
        ``(start_s, stop_s)`` in the clip (None for the whole clip).
        """
        fe = self.frontend
        y = at_rate(x, sr, fe)
        words = self._segments(y)
        if (len(words) <= 1 and y.shape[0] <= fe.n_window) or not words:
            return [self.leveled(fix_length(y, fe.n_window, fe.align)
                                 if y.shape[0] < fe.n_window else y)], [None]
        sr_fe = fe.sample_rate_Hz
        return ([self.leveled(in_context(y, w, words, fe)) for w in words],
                [(w.start / sr_fe, w.stop / sr_fe) for w in words])

    def predict_files(self, paths, *, skip_bad: bool = False) -> dict:
        """Per file: the answer, its scores, and the words when a clip holds several."""
        fe = self.frontend
        clips, kept, bad = read_clips(paths, skip_bad=skip_bad)
        pieces, owners, spans = [], [], []
        for k, (x, sr) in zip(kept, clips):
            p, s = self.clip_words(x, sr)
            pieces.extend(p)
            spans.extend(s)
            owners.extend([k] * len(p))
        rates = self.rates_from_logmel(self.logmel(pieces, [fe.sample_rate_Hz] * len(pieces)))
        pred = self.model.predict_rates(rates)
        files = []
        for k in kept:
            idx = [i for i, o in enumerate(owners) if o == k]
            conf = [float(pred.probabilities[i].max()) for i in idx]
            best = idx[int(np.argmax(conf))]
            entry = {"file": str(paths[k]), **pred.record(best)}
            if len(idx) > 1 or spans[idx[0]] is not None:
                entry["words"] = [{"start_s": spans[i][0], "stop_s": spans[i][1],
                                   **pred.record(i)} for i in idx]
            files.append(entry)
        return {"files": files, "skipped": [{"file": f, "error": e} for f, e in bad],
                "labels": list(self.model.labels)}

    # ------------------------------------------------------------------ streaming

    def stream(self, x, sample_rate_Hz=None, *, scores: bool = False) -> dict:
        """Detections in a long recording (see :func:`neuromem.model.audio.stream_segments`).

        A word becomes a detection when its answer is a keyword (not ``_unknown_`` or
        ``_silence_``) with at least ``min_confidence``; each detection has its onset and end (s), label, confidence and
        spike counts. With ``scores`` the answer of every window (classified as a clip, the
        training path) is returned too: the score track of a plot.
        """
        fe = self.frontend
        ro = self.readout
        if isinstance(x, (str, Path)):
            wave, sr = read_clips([x])[0][0]
        else:
            if sample_rate_Hz is None:
                raise ConfigError("a waveform needs sample_rate_Hz", key="sample_rate_Hz")
            wave, sr = x, int(sample_rate_Hz)
        y = at_rate(wave, sr, fe)
        window_s = ro.window_s or fe.window_s
        segs, starts = stream_segments(y, fe, window_s=window_s, hop_s=ro.hop_s,
                                       gate_db=ro.gate_db, gap_s=ro.gap_s,
                                       min_word_s=ro.min_word_s)
        sr_fe = fe.sample_rate_Hz
        pieces = [self.leveled(in_context(y, s, segs, fe)) for s in segs]
        detections, words = [], []
        events = {}
        if pieces:
            pred = self.model.predict_rates(
                self.rates_from_logmel(self.logmel(pieces, [sr_fe] * len(pieces))))
            events = pred.events
            for i, s in enumerate(segs):
                rec = {"start_s": s.start / sr_fe, "stop_s": s.stop / sr_fe, **pred.record(i)}
                words.append(rec)
                if rec["label"] != "none" and not rec["label"].startswith("_"):
                    detections.append(rec)      # _unknown_ / _silence_ are no detections
        out = {"duration_s": y.shape[0] / sr_fe, "window_s": window_s, "hop_s": ro.hop_s,
               "n_windows": len(starts), "words": words, "detections": detections,
               "labels": list(self.model.labels), "events": events}
        if scores:
            n_win = int(round(window_s * sr_fe))
            wins = [self.leveled(y[t:t + n_win]) for t in starts]
            wp = self.model.predict_rates(
                self.rates_from_logmel(self.logmel(wins, [sr_fe] * len(wins))))
            out["window_times_s"] = [(t + 0.5 * n_win) / sr_fe for t in starts]
            out["window_probabilities"] = wp.probabilities
        return out
