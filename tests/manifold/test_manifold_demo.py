"""The quick manifold demo: sections, figures and ground-truth scores."""


from neuralscope.manifold.demo import demo_sections


def test_quick_demo_sections_and_scores():
    sections = demo_sections(seed=0, quick=True)
    assert [s.key for s, _ in sections] == ["manifold-decision", "manifold-m1"]
    for sec, _ in sections:
        assert sec.figures and all(f.png for f in sec.figures)
        assert any(f.score for f in sec.figures)
    decision, m1 = sections[0][1], sections[1][1]
    assert decision["trajectories"]["latent_knn_r2"] > 0.5
    assert decision["methods"]["contrastive (hybrid)"]["silhouette_late"] > 0.3
    methods = m1["methods"]
    # Velocity-guided contrastive embedding decodes held-out velocity far better than 3 PCs.
    assert methods["contrastive (velocity)"]["knn_r2_test"] > methods["PCA"]["knn_r2_test"] + 0.2
