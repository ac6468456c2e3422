"""Coefficients embedded in csrc/dual.c for dfd_sf_digamma (run: python this_file.py).

On [1, 2.5] digamma is written psi(x) = (x - x0) R(x), x0 = 1.4616321449683622... its
positive root, so that psi keeps its relative accuracy at the root; R (analytic, no zero
there) is a Chebyshev series in u = (x - 1.75)/0.75, interpolated at N Chebyshev points
with mpmath at 60 digits and truncated where |c_j| < 1e-19.  x0 is printed as
x0_hi + x0_lo (two doubles)."""
import mpmath
from mpmath import mp, mpf

mp.dps = 60
A, B, N = mpf(1), mpf("2.5"), 60
x0 = mpmath.findroot(mpmath.digamma, mpf("1.46"))


def R(x):
    return mpmath.digamma(x) / (x - x0) if abs(x - x0) > mpf(10) ** -30 else mpmath.psi(1, x0)


def main():
    mid, half = (A + B) / 2, (B - A) / 2
    theta = [mpmath.pi * (j + mpf(1) / 2) / N for j in range(N)]
    f = [R(mid + half * mpmath.cos(t)) for t in theta]
    c = [2 * sum(f[j] * mpmath.cos(k * theta[j]) for j in range(N)) / N for k in range(N)]
    c[0] /= 2
    m = max(i for i in range(N) if abs(c[i]) >= mpf(10) ** -19) + 1
    hi = float(x0)
    print(f"x0_hi = {hi!r}, x0_lo = {float(x0 - mpf(hi))!r}")
    print(f"{m} coefficients:")
    for i in range(m):
        print(f"    {mpmath.nstr(c[i], 20, min_fixed=0, max_fixed=0)},")


if __name__ == "__main__":
    main()
