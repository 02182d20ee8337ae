"""implicit's explain: a user's score for an item as a sum over their items.

With A = YᵀY + λI + Σ_j (|c_j| − 1) y_j y_jᵀ the user's system (Hu, Koren &
Volinsky 2008, section 5), the folded-in score of item i is
Σ_{j: c_j > 0} c_j · y_jᵀ A⁻¹ y_i. As implicit: every stored entry of the
user's row counts as it is (stored zeros, repeats), entries with c < 0 add no
contribution, and the Cholesky factor of A is returned for reuse.
"""

import numpy as np
import scipy.linalg


def explain(Y, regularization, columns, confidences, itemid, user_weights, N):
    """(total score, [(item id, contribution)] the N largest first, cho_factor of A)."""
    if user_weights is None:
        Yo = Y[columns].astype(np.float64)
        A = (Y.T @ Y) + regularization * np.eye(Y.shape[1])
        A += (Yo.T * (np.abs(confidences) - 1.0)) @ Yo
        user_weights = scipy.linalg.cho_factor(A)
    weighted_item = scipy.linalg.cho_solve(user_weights, Y[itemid])
    keep = confidences >= 0
    columns, confidences = columns[keep], confidences[keep]
    scores = (Y[columns] @ weighted_item) * confidences
    # implicit keeps the N largest (score, item) pairs: ties go to the higher id
    order = np.lexsort((columns, scores))[::-1][:N]
    return scores.sum(), [(columns[j], scores[j]) for j in order], user_weights
