import base64
import re

import matplotlib.pyplot as plt

from neuralscope.report import Report, Section


def test_report_is_self_contained_and_escaped(tmp_path):
    sec = Section("Decoding <test>", intro="a & b")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    sec.add_figure("line", fig, caption="a line", score="accuracy 0.970")
    sec.add_table("metrics", ["model", "acc"], [["linear", 0.97123]])
    rep = Report("demo")
    rep.add_section(sec)
    rep.save(tmp_path / "report.html", figures_dir=tmp_path / "figures")
    text = (tmp_path / "report.html").read_text()
    assert "Decoding &lt;test&gt;" in text and "a &amp; b" in text
    assert "accuracy 0.970" in text and "0.971" in text
    m = re.search(r'src="data:image/png;base64,([^"]+)"', text)
    assert m and base64.b64decode(m.group(1))[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "figures" / "decoding-test-line.png").read_bytes()[:4] == b"\x89PNG"
    assert "http://" not in text and "https://" not in text  # opens offline
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind
