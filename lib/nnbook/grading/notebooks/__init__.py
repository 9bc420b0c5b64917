"""Exercise notebooks: nbgrader's cell format (:mod:`.cells`) and ``nnbook release`` (:mod:`.release`)."""
