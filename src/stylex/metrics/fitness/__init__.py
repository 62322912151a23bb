"""The fitness verdict: can this run explain this classifier?

A run can pass every loss curve and still explain nothing: classifier consistency is carried by
the condition ``c = C(x)`` the generator receives, so an encoder that collapsed to class
templates still scores ~1.0. The verdict compares the run against trivial references and asks
whether the *image content* (not the condition) carries the class. It is cheap (a few forward
passes over ``num_images`` held-out images) and runs at the end of ``stylex train``, inside
``stylex evaluate`` (``metrics.json["fitness"]``) and before ``attfind``/``explain``/``report``/
``serve`` (a warning when the stored verdict is "not fit").

Notation: ``x`` held-out images ``[N, C, R, R]`` in [-1, 1]; ``x' = G(E(x), c)`` their
reconstructions; ``ŷ = argmax C(x)``; ``maj`` = the share of the most frequent ``ŷ`` (what a
constant prediction scores, the chance reference for class shares). Checks (thresholds:
:class:`FitnessThresholds`; ``required`` checks decide ``fit``, ``advisory`` ones only warn):

``reconstruction`` (required)
    value ``L1(x, x')`` (mean per pixel, [-1, 1] units); reference = the smallest L1 of four
    trivial reconstructions that know nothing of the image beyond a colour or a class:
    ``flat`` (each image's own per-channel median colour: the best constant image under L1),
    ``border`` (each image's per-channel median border colour, "all background"),
    ``dataset_mean`` (the mean of the *other* images) and ``class_mean`` (the mean of the other
    images with the same ``ŷ``: a class template). Passes when value ≤ ``recon_ratio`` (0.8) ×
    reference: a reconstruction must remove at least a fifth of the best trivial error, else it
    carries no per-image content worth explaining (measured on 128 held-out images: the
    shipped Fashion-MNIST run 0.68×, shapes 0.40×; the shapes baseline 1.31× fails).
``retrieval`` (required)
    per reconstruction ``x'_i``, the share of the other images of ``x_i``'s predicted class that
    are farther from ``x'_i`` (L1) than ``x_i`` is; value = the mean over i, reference ½. A class
    template (or noise) is about as close to any image of its class as to its own: ≈ ½; a
    reconstruction that keeps the image's own content: ≈ 1, whatever N. Passes at ≥
    ``min_retrieval`` (0.8). (``top1``, the share whose nearest image among all N is their own,
    is reported beside it; it falls with N, so it is not the criterion.)
``consistency`` (required)
    share of ``x'`` with ``argmax C(x') = ŷ``; reference ``maj``. Passes at ≥
    ``min_consistency`` (0.8).
``neutral_consistency`` (required; not applicable to a baseline run, nor when every image
has the same predicted class)
    the same share when the condition is neutralised: ``G(E(x), c̄)`` with ``c̄`` the mean
    condition over the N images; reference ``maj``. Passes when the chance-corrected share
    ``(value − maj) / (1 − maj)`` ≥ ``min_neutral_kappa`` (0.25: "near chance" is less than a
    quarter of the way from chance to every image; under the null, where reconstructions
    ignore the image, the share is ``maj`` ± ~0.05 at N = 128). If it fails, the class is
    carried only by the condition.
``swap_follow`` (advisory; not applicable to a baseline run)
    share of ``G(E(x_i), c_j)`` classified as ``ŷ_j``, with ``j`` the next image (cyclically)
    of another class: how much the condition alone controls the class (the trainer's
    ``cond_flip``; :func:`condition_swap`). Passes at ≥ ``min_swap_follow`` (0.25). Below it
    the class is carried by w, as in a baseline run, and the attributes need not be the ones
    the classifier-conditioned training is for (measured, ``benchmarks/recipe_log.md``
    session 19: 20 runs with the default's ``lambda_cf`` 3, 0.53–1.00; with ``--lambda-cf 1``
    0.11 on the two-factor shapes task and 0.20 on gratings, whose ground-truth precision@5
    fell from 0.8 to 0.4 and from 0.4 to 0.0).
``condition_concentration`` (advisory; not applicable to a baseline run)
    per conv style coordinate, the mean ``|s(w, c_j) − s(w, c_i)|`` over the swapped pairs,
    divided by the coordinate's std over the images; value = share of the total carried by the
    top ``k = max(10, 1%)`` coordinates, reference ``k / S`` (uniform). Passes at ≥
    ``min_concentration`` (0.5): AttFind looks for few coordinates; a diffuse condition makes
    its attributes weak. Also reports the generator's ``cond_active``/``cond_row_norm``.
``attributes`` (required when ``RUN/attfind/attributes.json`` exists and is newer than the
weights; else "not run")
    where sufficiency was measured (``stylex evaluate``): value = the flip rate of the top-10
    attributes minus the rate with no edit (``sufficiency["10"] − sufficiency_k0``); reference 0.
    Passes at ≥ ``min_attribute_flip`` (0.25; the shipped Fashion-MNIST run: 0.99, a run
    whose attributes explain nothing: 0.04). Otherwise value = the median over classes of the
    top attribute's mean effect (AttFind's: mean rise of ``p_y`` over images not predicted
    ``y``), passing at ≥ ``min_attribute_effect`` (0.01; shipped Fashion-MNIST 0.012, the
    explain-nothing run 0.0025), with each class's top effect and flipped count.
``factors`` (required when the data has known factors and the caller already measured the
factor probe on real images and on reconstructions, e.g. ``stylex evaluate`` on ``shapes``;
else "not run")
    the largest excess error over factors, probe error on ``x'`` minus on ``x``: in factor stds
    for continuous/circular factors (chance ≈ 0.9); for categorical ones the share of the
    probe's accuracy above chance that is lost, ``(acc(x) − acc(x')) / (acc(x) − chance)``
    (1 = the reconstructions are read at chance: the factor is not reproduced; the plain accuracy
    drop when ``chance`` was not recorded). Passes at ≤ ``max_factor_excess`` (0.5). Factors
    that fail it are not *reproduced*: the ground truth does not read them on generated images.
``ground_truth`` (data with known factors and a label rule, measured by ``stylex evaluate``;
else "not run")
    value = ground truth ``precision_top5``: the share of the top-5 attributes of all classes
    whose main change (dominant factor, :mod:`stylex.metrics.ground_truth`) is a factor of the
    label rule; reference = the share of the factors the rule uses (a random main change).
    Passes at ≥ ``min_label_precision`` (0.5). **Required** when the classifier follows the
    rule (predicted class = label on ≥ ``min_rule_agreement``, 0.9, of the evaluated images):
    then an attribute that flips it should change a factor of the rule, and attributes whose
    main change is another factor credit the wrong cause (measured: a 30-minute ``shapes
    hue<0.5`` run whose top attributes paint a second blob of the other colour, read mainly as
    size, position and shape changes, scores 0.0; the two-factor run 0.6). Advisory otherwise
    (the classifier may use those factors). A label factor that is the main change of no
    top-10 attribute gives a warning (the explanation leaves that part of the rule out). The
    cause and the warnings also name the main change of each class's top-3 attributes applied
    together (``ground_truth.joint_attributes``), which can be a label factor where no single
    attribute's is; the check itself scores single attributes, the unit the report shows.
    (:mod:`stylex.metrics.fitness.ground_truth`.)

Every failed check yields a cause that says what is wrong and what to do next (with real
``stylex train`` options). ``fit`` = every required check that ran passed.
"""

from stylex.metrics.fitness.compute import compute_fitness
from stylex.metrics.fitness.store import (
    fitness_notice,
    load_fitness,
    save_fitness,
    warn_if_unfit,
)
from stylex.metrics.fitness.verdict import FITNESS_FILE, Check, Fitness, FitnessThresholds

__all__ = [
    "FITNESS_FILE",
    "Check",
    "Fitness",
    "FitnessThresholds",
    "compute_fitness",
    "fitness_notice",
    "load_fitness",
    "save_fitness",
    "warn_if_unfit",
]
