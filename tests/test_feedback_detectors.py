"""Every detector added with the mistake catalog is needed: switched off, the catalog entries that need it are
no longer named right (their first hint changes, a hint beyond their cause appears, or the cause no longer
explains every failing case).

Each row switches one detector off (one wrong alternative, one rule's answer, one whole-check detector or
one generic pattern) and lists the entries of tests/catalog/ that depend on it.
"""
import pytest

from nnbook.grading import EXERCISES
from nnbook.grading.judge import checker, exercise, mistakes
from nnbook.grading.sets import ex2_training, ex6_batch_norm

from catalog.slips import judge, load, what_is_wrong


def entry(set_name, entry_id):
    found = [e for e in load(set_name).mistakes if e.id == entry_id]
    assert found, entry_id
    return found[0]


def named_right(e):
    """As tests/test_feedback_catalog.py asks (see ``catalog.slips.what_is_wrong``)."""
    return what_is_wrong(e, judge(e)) is None


# --- ways to switch one detector off --------------------------------------------------------------------------

def no_alternative(exercise_id, hint_id):
    """The exercise's wrong alternatives without those that name ``hint_id``."""
    def patch(mp):
        ex = EXERCISES[exercise_id]
        original = ex.alternatives
        mp.setattr(ex, "alternatives", lambda case, exp: [a for a in original(case, exp)
                                                          if getattr(a[2], "id", None) != hint_id])
    return patch


def no_rule_answer(exercise_id, hint_id):
    """The exercise's rules never answer ``hint_id``."""
    def patch(mp):
        ex = EXERCISES[exercise_id]

        def without(rule):
            def wrapped(case, problem):
                h = rule(case, problem)
                return None if getattr(h, "id", None) == hint_id else h
            return wrapped
        mp.setattr(ex, "rules", tuple(without(r) for r in ex.rules))
    return patch


def no_detector(exercise_id, name):
    def patch(mp):
        ex = EXERCISES[exercise_id]
        mp.setattr(ex, "detectors", tuple(d for d in ex.detectors if getattr(d, "__name__", "") != name))
    return patch


def no_generic(name):
    def patch(mp):
        mp.setattr(mistakes, "GENERIC", tuple(g for g in mistakes.GENERIC if g.__name__ != name))
    return patch


def no_variant(exercise_id, hint_id):
    def patch(mp):
        variants = dict(ex2_training.VARIANTS)
        variants[exercise_id] = tuple(v for v in variants[exercise_id] if v[0].id != hint_id)
        mp.setattr(ex2_training, "VARIANTS", variants)
    return patch


def no_bn_variant(hint_id):
    def patch(mp):
        mp.setattr(ex6_batch_norm, "_WRONG", {k: [v for v in vs if v[0].id != hint_id]
                                              for k, vs in ex6_batch_norm._WRONG.items()})
    return patch


def both(*switches):
    def patch(mp):
        for switch in switches:
            switch(mp)
    return patch


def plain(mp_target, attr, value):
    def patch(mp):
        mp.setattr(mp_target, attr, value)
    return patch


DETECTORS = [
    # generic patterns (judge/mistakes.py, judge/exercise.py, judge/checker.py)
    ("a loop that stops one short", no_generic("loop_stops_short"), [("ex1_fully_connected", "linear_forward/loop_stops_short")]),
    ("NumPy's errors said in words", no_generic("numpy_error"), [("ex4_pooling", "avgpool2d_forward/loop_past_the_end")]),
    ("a numerical-gradient case fails for the others' reason", plain(mistakes, "numerical_too", lambda results: []),
     [("ex1_fully_connected", "softmax_cross_entropy/sign_flipped"), ("ex4_pooling", "maxpool2d_backward/overwrites")]),
    ("a cache unpacked into other names", plain(exercise, "_UNPACK", __import__("re").compile("(?!)")),
     [("ex5_dropout", "dropout_backward/unpacks_cache")]),
    ("alternatives silence the rules' guesses", plain(checker, "_alternative_hints", lambda *a: []),
     [("ex1_fully_connected", "linear_backward/dW_transposed"), ("ex1_fully_connected", "softmax_cross_entropy/loss_sum")]),
    ("one indistinguishable alternative dropped", plain(checker, "_undominated", lambda found, results: found),
     [("ex5_dropout", "dropout_forward/p_is_keep")]),
    ("scalar alternatives (a loss)", plain(checker, "_same", lambda alt, got: False),
     [("ex1_fully_connected", "softmax_cross_entropy/loss_sum")]),
    # ex1
    ("bias added in the loop", no_alternative("linear_forward", "linear_bias_repeated"),
     [("ex1_fully_connected", "linear_forward/bias_inside_loop")]),
    ("db over the wrong axis", no_alternative("linear_backward", "linear_db_axis"),
     [("ex1_fully_connected", "linear_backward/db_wrong_axis")]),
    ("dx without W's transpose", no_rule_answer("linear_backward", "linear_dx_transpose"),
     [("ex1_fully_connected", "linear_backward/dx_W_not_transposed")]),
    ("x not flattened (an exception)", no_rule_answer("linear_forward", "linear_not_flattened"),
     [("ex1_fully_connected", "linear_forward/not_flattened")]),
    ("np.max for np.maximum", no_alternative("relu_forward", "relu_max_not_maximum"), [("ex1_fully_connected", "relu_forward/np_max")]),
    ("ReLU gated on dout", no_alternative("relu_backward", "relu_gate_on_dout"), [("ex1_fully_connected", "relu_backward/gate_on_dout")]),
    ("ReLU backward without dout", no_alternative("relu_backward", "relu_forgot_dout"), [("ex1_fully_connected", "relu_backward/forgot_dout")]),
    ("ReLU backward times x", no_alternative("relu_backward", "relu_backward_times_x"),
     [("ex1_fully_connected", "relu_backward/times_relu")]),
    ("log of an underflowed probability", no_rule_answer("softmax_cross_entropy", "softmax_log_underflow"),
     [("ex1_fully_connected", "softmax_cross_entropy/log_of_probability")]),
    ("labels as columns", no_alternative("softmax_cross_entropy", "softmax_label_indexing"),
     [("ex1_fully_connected", "softmax_cross_entropy/labels_as_columns")]),
    # ex2
    ("optimizer state not stored", no_rule_answer("sgd_momentum", "optimizer_state_not_stored"),
     [("ex2_training", "sgd_momentum/velocity_not_stored")]),
    ("Nesterov for momentum", no_variant("sgd_momentum", "momentum_nesterov"), [("ex2_training", "sgd_momentum/nesterov")]),
    ("RMSProp of the gradients", no_variant("rmsprop", "rmsprop_not_squared"), [("ex2_training", "rmsprop/not_squared")]),
    ("AdaGrad for RMSProp", no_variant("rmsprop", "rmsprop_sum_not_average"), [("ex2_training", "rmsprop/adagrad_sum")]),
    ("no square root", no_variant("rmsprop", "rmsprop_no_sqrt"), [("ex2_training", "rmsprop/no_sqrt")]),
    ("Adam stores the corrected moments", no_variant("adam", "adam_stored_corrected"), [("ex2_training", "adam/stores_corrected")]),
    # ex3
    ("conv windows not moved by the stride", no_alternative("conv2d_forward", "conv_window_start"),
     [("ex3_convolution", "conv2d_forward/window_start")]),
    ("conv summed over the batch", no_alternative("conv2d_forward", "conv_summed_over_batch"),
     [("ex3_convolution", "conv2d_forward/summed_over_batch")]),
    ("padding ignored (window off the edge)", no_rule_answer("conv2d_forward", "padding_ignored"),
     [("ex3_convolution", "conv2d_forward/no_padding")]),
    ("flipped kernel in backward", no_alternative("conv2d_backward", "conv_backward_flipped_kernel"),
     [("ex3_convolution", "conv2d_backward/flipped_kernel")]),
    ("dW not accumulated", no_alternative("conv2d_backward", "conv_dW_not_accumulated"),
     [("ex3_convolution", "conv2d_backward/dW_overwrites")]),
    ("backward windows not moved by the stride", no_alternative("conv2d_backward", "conv_backward_stride"),
     [("ex3_convolution", "conv2d_backward/stride_ignored")]),
    # ex4
    ("pooled over the batch too", no_alternative("maxpool2d_forward", "pool_reduce_axes"),
     [("ex4_pooling", "maxpool2d_forward/max_over_everything")]),
    ("pool windows not moved by the stride", no_alternative("avgpool2d_forward", "pool_window_start"),
     [("ex4_pooling", "avgpool2d_forward/window_start")]),
    ("max-pool backward windows", no_alternative("maxpool2d_backward", "pool_window_start"),
     [("ex4_pooling", "maxpool2d_backward/window_start")]),
    ("average divisor", no_alternative("avgpool2d_forward", "avgpool_divisor"),
     [("ex4_pooling", "avgpool2d_forward/sum_not_mean"), ("ex4_pooling", "avgpool2d_forward/divided_by_k")]),
    ("max-pool backward without dout", no_alternative("maxpool2d_backward", "maxpool_backward_forgot_dout"),
     [("ex4_pooling", "maxpool2d_backward/forgot_dout")]),
    ("the last tied maximum", no_alternative("maxpool2d_backward", "maxpool_backward_last_tie"),
     [("ex4_pooling", "maxpool2d_backward/last_tied_maximum")]),
    ("dout not spread over the window", no_rule_answer("avgpool2d_backward", "pool_backward_broadcast"),
     [("ex4_pooling", "avgpool2d_backward/dout_not_spread")]),
    # ex5
    ("one mask for the batch", no_alternative("dropout_forward", "dropout_mask_draw"),
     [("ex5_dropout", "dropout_forward/mask_per_feature")]),
    ("dropout backward in eval mode", no_rule_answer("dropout_backward", "dropout_backward_eval"),
     [("ex5_dropout", "dropout_backward/eval_none_not_handled")]),
    ("dropout backward alternatives", no_alternative("dropout_backward", "dropout_backward_unscaled"),
     [("ex5_dropout", "dropout_backward/unscaled_mask")]),
    # ex6
    ("eval mode updates the running statistics", both(no_bn_variant("bn_eval_updates_running"),
                                                      no_rule_answer("batchnorm_forward", "bn_eval_updates_running")),
     [("ex6_batch_norm", "batchnorm_forward/eval_updates_running")]),
    ("eps outside the root", no_bn_variant("bn_eps_outside_sqrt"), [("ex6_batch_norm", "batchnorm_forward/eps_outside_sqrt")]),
    ("training formula in eval mode", no_alternative("batchnorm_backward", "bn_backward_eval_formula"),
     [("ex6_batch_norm", "batchnorm_backward/training_formula_in_eval")]),
    ("dx without gamma", no_alternative("batchnorm_backward", "bn_backward_forgot_gamma"),
     [("ex6_batch_norm", "batchnorm_backward/forgot_gamma")]),
    ("dgamma without xhat", no_alternative("batchnorm_backward", "bn_backward_dgamma"),
     [("ex6_batch_norm", "batchnorm_backward/dgamma_without_xhat")]),
    ("m = N for images", no_alternative("batchnorm_backward", "bn_backward_count"),
     [("ex6_batch_norm", "batchnorm_backward/m_is_batch_size")]),
    ("statistics recomputed in backward", no_alternative("batchnorm_backward", "bn_backward_recomputed_stats"),
     [("ex6_batch_norm", "batchnorm_backward/recomputes_statistics")]),
    # ex7
    ("x lost outside the grid", no_alternative("shortcut_forward", "shortcut_rest_of_x"),
     [("ex7_residual", "shortcut_forward/rest_zero")]),
    ("alpha and beta swapped on any sizes", no_alternative("shortcut_forward", "shortcut_weights_swapped"),
     [("ex7_residual", "shortcut_forward/weights_swapped")]),
    ("alpha on all of dx", no_alternative("shortcut_backward", "shortcut_backward_alpha_everywhere"),
     [("ex7_residual", "shortcut_backward/alpha_everywhere")]),
    ("the shortcut's gradient dropped", no_alternative("shortcut_backward", "shortcut_backward_rest"),
     [("ex7_residual", "shortcut_backward/drops_shortcut_gradient")]),
    ("dy in x's shape", no_rule_answer("shortcut_backward", "shortcut_dy_shape"), [("ex7_residual", "shortcut_backward/dy_shape_of_x")]),
    ("a filter's weights against the last axis", both(no_rule_answer("projection_shortcut", "projection_weights_axis"),
                                                       no_alternative("projection_shortcut", "projection_weights_axis")),
     [("ex7_residual", "projection_shortcut/weights_not_lined_up")]),
    ("projection W read as (C, F)", no_rule_answer("projection_shortcut", "projection_weights"),
     [("ex7_residual", "projection_shortcut/weights_transposed")]),
    ("projection rows from s - 1", no_alternative("projection_shortcut", "projection_stride"),
     [("ex7_residual", "projection_shortcut/offset_start")]),
    ("needs_projection returns None", no_rule_answer("needs_projection", "needs_projection_returns_none"),
     [("ex7_residual", "needs_projection/no_return_false")]),
    ("projection without the stride", no_rule_answer("residual_block_forward", "block_projection_stride"),
     [("ex7_residual", "residual_block_forward/projection_stride_1")]),
    ("conv2 with the stride", no_rule_answer("residual_block_forward", "block_conv2_stride"),
     [("ex7_residual", "residual_block_forward/stride_in_conv2")]),
    ("3x3 convolutions without padding", no_rule_answer("residual_block_forward", "block_conv_padding"),
     [("ex7_residual", "residual_block_forward/no_padding")]),
    ("a ReLU left out", no_alternative("residual_block_forward", "block_missing_relu"),
     [("ex7_residual", "residual_block_forward/no_relu_after_bn2")]),
    ("batch norm in training mode in the block", no_alternative("residual_block_forward", "block_bn_eval"),
     [("ex7_residual", "residual_block_forward/bn_in_training_mode")]),
]


@pytest.mark.parametrize("what, switch_off, entries", DETECTORS, ids=[d[0] for d in DETECTORS])
def test_switching_a_detector_off_unnames_its_entries(monkeypatch, what, switch_off, entries):
    chosen = [entry(s, e) for s, e in entries]
    assert all(named_right(e) for e in chosen), f"{what}: not named right even with the detector"
    switch_off(monkeypatch)
    still = [e.id for e in chosen if named_right(e)]
    assert not still, f"{what}: switched off, and still named right: {still}"
