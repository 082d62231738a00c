"""The synthetic demo cohort: a seeded generator of CAR-T patients, labs and treatments.

Everything here is SYNTHETIC. No real patient contributed a value. The generator mirrors the
published counts of Perl et al., Haematologica 2024 (41 consecutive CAR-T patients,
tocilizumab-associated hypofibrinogenemia), so that every figure of that paper can be redone in
the app, and it scales to any ``n`` for benchmarks.

With ``n=41`` the patient table reproduces the paper's Table 1 and reported counts exactly (see
``DESIGN.md``, "The demo cohort"). How the counts are guaranteed:

1. A template of 41 archetypes fixes every categorical target jointly (CRS/ICANS grade,
   tocilizumab doses, target hypofibrinogenemia grade, overt DIC, IEC-HS, steroids,
   substitution, recovery or not); demographics are exact permutations of the Table 1 lists.
2. Per patient, the event days (onset, nadir, recovery, last follow-up) are chosen first and
   inserted into the ward's sampling schedule; the lab series are then built to realise them
   (fibrinogen rises during CRS as an acute-phase protein, falls after tocilizumab to the
   target nadir, recovers slowly or not at all; untreated patients rise and stay high).
3. The endpoint columns of the patient table are filled by :func:`core.endpoints.derive` on the
   generated labs and treatments, and the generator checks that every target was met.

For ``n != 41`` archetypes are tiled (whole copies of the 41, the remainder sampled) and the
times jittered: same proportions, not exact counts.

Run ``python -m core.demo`` to rewrite ``data/demo_*.csv``.

==============  ===========================================================================
module          what it draws
==============  ===========================================================================
``archetypes``  the 41 joint toxicity targets and the paper's day lists; tiling for any n
``patients``    demographics and products; PFS/OS
``timeline``    per-patient event days and the sampling grid
``labs``        the lab series that realise the targets
``treatments``  tocilizumab, steroids, anakinra, fibrinogen concentrate
``cohort``      :func:`generate`, the target check, :func:`write`
==============  ===========================================================================
"""

from core.demo.archetypes import DEFAULT_N, DEFAULT_SEED
from core.demo.cohort import DATA_DIR, DemoCohort, generate, main, write

__all__ = ["DATA_DIR", "DEFAULT_N", "DEFAULT_SEED", "DemoCohort", "generate", "main", "write"]
