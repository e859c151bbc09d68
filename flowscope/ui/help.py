# ruff: noqa: E501  (HTML)
"""Help > Formula cheat-sheet: MATH.md's conventions in one page."""

CHEATSHEET_HTML = """
<h3>Conventions</h3>
<p><b>t = 0 is noise, t = 1 is data.</b> X<sub>0</sub> ~ N(0, I), X<sub>1</sub> ~ p<sub>data</sub>.</p>
<h3>Gaussian path</h3>
<p>p<sub>t</sub>(x | z) = N(α<sub>t</sub> z, β<sub>t</sub><sup>2</sup> I), &nbsp;
x<sub>t</sub> = α<sub>t</sub> z + β<sub>t</sub> ε.
CondOT: α<sub>t</sub> = t, β<sub>t</sub> = 1 − t.</p>
<h3>Conditional targets</h3>
<p>u<sub>t</sub>(x | z) = α̇<sub>t</sub> z + β̇<sub>t</sub> ε (CondOT: z − ε);
&nbsp; ∇log p<sub>t</sub>(x | z) = −ε / β<sub>t</sub>.</p>
<h3>Losses</h3>
<p>flow matching: E‖u<sub>θ</sub>(x<sub>t</sub>, t) − (α̇<sub>t</sub> z + β̇<sub>t</sub> ε)‖²<br>
score matching: E‖s<sub>θ</sub>(x<sub>t</sub>, t) + ε / β<sub>t</sub>‖² &nbsp;
noise prediction: E‖ε<sub>θ</sub>(x<sub>t</sub>, t) − ε‖²<br>
The loss has a floor L<sub>min</sub> = E‖u<sub>t</sub>(x | z) − u<sub>t</sub>(x)‖² &gt; 0;
excess loss = L − L<sub>min</sub> → 0.</p>
<h3>Velocity ↔ score</h3>
<p>s<sub>t</sub>(x) = (α<sub>t</sub> u<sub>t</sub>(x) − α̇<sub>t</sub> x) /
(β<sub>t</sub><sup>2</sup> α̇<sub>t</sub> − α<sub>t</sub> β<sub>t</sub> β̇<sub>t</sub>);
CondOT: s = (t u − x) / (1 − t).</p>
<h3>Sampling</h3>
<p>ODE: dX<sub>t</sub> = u<sub>t</sub>(X<sub>t</sub>) dt (Euler, Heun, RK4; h = 1/n)<br>
SDE: dX<sub>t</sub> = [u<sub>t</sub> + σ<sub>t</sub><sup>2</sup>/2 ∇log p<sub>t</sub>] dt
+ σ<sub>t</sub> dW<sub>t</sub>: same marginals p<sub>t</sub> for every σ<sub>t</sub> ≥ 0.
Dropping the σ<sub>t</sub><sup>2</sup>/2 score term breaks this.</p>
<h3>Classifier-free guidance</h3>
<p>ũ<sub>t</sub>(x | y) = (1 − w) u<sub>t</sub>(x | ∅) + w u<sub>t</sub>(x | y);
w = 0 unconditional, 1 conditional, &gt; 1 amplified. Training drops labels with rate η.</p>
<h3>Exact marginal of a drawn density</h3>
<p>p<sub>data</sub> = Σ π<sub>i</sub> N(μ<sub>i</sub>, h<sub>i</sub><sup>2</sup> I):
s<sub>i</sub><sup>2</sup> = α<sub>t</sub><sup>2</sup> h<sub>i</sub><sup>2</sup> + β<sub>t</sub><sup>2</sup>,
w<sub>i</sub>(x, t) = softmax(log π<sub>i</sub> − ‖x − α<sub>t</sub> μ<sub>i</sub>‖² / 2s<sub>i</sub><sup>2</sup>
− d log s<sub>i</sub>),<br>
u<sub>t</sub>(x) = Σ w<sub>i</sub> [α̇<sub>t</sub> μ<sub>i</sub> + (ṡ<sub>i</sub>/s<sub>i</sub>)(x − α<sub>t</sub> μ<sub>i</sub>)],
&nbsp; ∇log p<sub>t</sub>(x) = Σ w<sub>i</sub> (α<sub>t</sub> μ<sub>i</sub> − x) / s<sub>i</sub><sup>2</sup>.</p>
<h3>Keys</h3>
<p>T train/pause · Space play/pause time · Ctrl+Z / Ctrl+Shift+Z undo/redo drawing ·
B brush · E eraser · 1-4 class · [ ] brush width · Ctrl+S save · Ctrl+O open · F1 this sheet</p>
"""

IMAGE_KEYS_HTML = """
<h3>Keys (image mode)</h3>
<p>T train/pause · S one step · N new noise · Ctrl+R reset weights · Ctrl+O open a dataset ·
Ctrl+E export the grid (PNG) · Ctrl+Shift+E export the model · F1 this sheet</p>
"""
