"""Aggregate probabilities on a window of the lattice by FFT, with exponential tilting.

For a count N with probability generating function P_N and a lattice severity f_j (j = 0..J-1),
the aggregate probabilities are g = IFFT(P_N(FFT(f))). A transform of length L gives them modulo
L (circular convolution); two devices make the result exact on the window k = c .. c+L-1:

* Padding and exponential tilting (Grübel & Hermesmeier 1999; Embrechts & Frei 2009): the
  transform has length L = ``pad`` x window and uses f_j e^{-theta j} instead of f_j. The computed
  values are then sum_m g_{k+mL} e^{-theta (k+mL)}, and multiplying by e^{theta k} leaves g_k plus
  the wrapped terms damped by e^{-theta L} (theta L = ``tilt``, default 20: wrap-around of the
  mass beyond the padded length is damped by 2e-9). Untilting also magnifies rounding noise by
  up to e^{theta * window}; with pad = 2 that is e^{10}, which is why both devices are used.
* A window: when S lies almost surely in [c h, (c+L) h) (many claims), the severity is folded
  modulo L and each residue is mapped back to its one position in the window, so the lattice
  need not start at zero. Mass below c h (negligible by the choice of c) is lost.

The forward transform and ln P_N are evaluated in extended precision (``numpy.longdouble``): for
a large expected count lambda, a rounding error e in FFT(f) becomes an error lambda * e in the
exponent of exp(lambda (phi - 1)), which the untilting would magnify. The imaginary part of the
exponent (a phase of order lambda * omega * E[X]) is reduced modulo 2 pi in extended precision, so
the final exponential is taken in double precision without losing the phase.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sp_fft

_TWO_PI = np.longdouble(2) * np.arccos(np.longdouble(-1))


def _exp_reduced(w) -> np.ndarray:
    """exp(w) for extended-precision complex w, with Im w reduced modulo 2 pi before rounding."""
    phase = np.fmod(w.imag, _TWO_PI).astype(np.float64)
    return np.exp(w.real.astype(np.float64)) * (np.cos(phase) + 1j * np.sin(phase))


def fft_window(log_pgf, f: np.ndarray, start: int, length: int, tilt: float, pad: int = 2) -> np.ndarray:
    """Probabilities g_k, k = start .. start+length-1, of the compound with severity ``f``.

    Parameters
    ----------
    log_pgf : callable
        ln P_N(z) of the count, vectorised over (extended-precision) complex arrays.
    f : ndarray (J,)
        Severity probabilities on 0, h, ..., (J-1) h; J <= start + length.
    start, length : int
        Window of lattice indices to return.
    tilt : float
        theta * L (L the transform length); 0 switches tilting off.
    pad : int
        Transform length as a multiple of ``length`` (at least 1).

    Returns
    -------
    ndarray (length,)
    """
    n_fft = sp_fft.next_fast_len(max(int(pad), 1) * length, real=True)
    top = start + n_fft
    theta = min(tilt, 600.0 * n_fft / top) / n_fft if tilt > 0 else 0.0
    nonzero = np.flatnonzero(f)
    f = f[: nonzero[-1] + 1] if nonzero.size else f[:1]
    j = np.arange(f.size, dtype=np.longdouble)
    tilted = f.astype(np.longdouble) * np.exp(-np.longdouble(theta) * j)
    folded = np.zeros(n_fft, dtype=np.longdouble)
    n_full = f.size // n_fft
    if n_full:
        folded += tilted[: n_full * n_fft].reshape(n_full, n_fft).sum(axis=0)
    rest = tilted[n_full * n_fft:]
    folded[: rest.size] += rest
    phi = sp_fft.rfft(folded)
    # frequencies where |P| underflows anyway are found in double precision and skipped
    with np.errstate(all="ignore"):
        alive = np.real(log_pgf(phi.astype(np.complex128))) > -745.0
    transform = np.zeros(phi.size, dtype=np.complex128)
    transform[alive] = _exp_reduced(np.asarray(log_pgf(phi[alive]), dtype=np.clongdouble))
    circ = sp_fft.irfft(transform, n_fft)
    k = np.arange(start, start + length)
    return np.maximum(circ[k % n_fft] * np.exp(theta * k), 0.0)
