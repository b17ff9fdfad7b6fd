"""The torch network behind :class:`neuralscope.manifold.seqvae.SequentialVAE`.

Written from the description of LFADS in Pandarinath et al. (2018), "Inferring
single-trial neural population dynamics with sequential auto-encoders", Nature
Methods 15:805, and its supplementary methods:

- an initial-condition encoder (bidirectional GRU over the whole trial) gives
  a Gaussian posterior over the generator's initial state ``g0``;
- optionally, an inferred-input path: a second bidirectional GRU encodes the
  trial bin by bin, and a controller GRU (fed that encoding and the previous
  factors) gives a Gaussian posterior over a low-dimensional input ``u_t`` to
  the generator at every step;
- a generator GRU unrolls from ``g0`` (driven by ``u_t`` when present);
- factors are a linear, low-dimensional projection of the generator state;
- every neuron's rate is exp (or softplus) of an affine read-out of the factors.

Without inferred inputs the generator is autonomous: it then runs as one fused
``nn.GRU`` call on zero input, which is much faster on CPU than a per-step
loop.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["SeqVAENetwork", "gaussian_kl"]


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor, prior_var: float) -> torch.Tensor:
    """KL( N(mean, exp(logvar)) || N(0, prior_var) ), summed over the last axis."""
    var_ratio = torch.exp(logvar) / prior_var
    return 0.5 * (var_ratio + mean.pow(2) / prior_var - 1.0 - torch.log(var_ratio)).sum(dim=-1)


def _bias_update_gates(module: nn.Module, value: float = 1.0) -> None:
    """Start every GRU's update gate biased towards keeping its state.

    LFADS does this (its "forget bias" of 1): at initialisation the state then
    changes slowly, gradients reach far back in time and the generator starts
    from smooth dynamics rather than from noise. PyTorch orders GRU gates as
    (reset, update, new), so the update gate is the second third of each bias.
    """
    for sub in module.modules():
        if isinstance(sub, (nn.GRU, nn.GRUCell)):
            for name, param in sub.named_parameters():
                if name.startswith("bias_ih"):
                    size = param.shape[0] // 3
                    with torch.no_grad():
                        param[size : 2 * size].fill_(value)


class SeqVAENetwork(nn.Module):
    """Sequential VAE: encoder(s) -> initial condition (+ inputs) -> generator -> factors -> log-rates.

    Parameters
    ----------
    n_in : int
        Neurons fed to the encoders (held-in neurons).
    n_out : int
        Neurons read out (held-in and held-out).
    n_factors : int
        Dimension of the factors.
    encoder_size, generator_size : int
        Hidden units of each direction of the initial-condition encoder, and
        of the generator (also the dimension of ``g0``).
    n_inputs : int
        Dimension of the inferred inputs (0: autonomous generator).
    controller_size : int
        Hidden units of the controller and of each direction of its encoder.
    dropout : float
        Dropout on the encoder outputs and the generator states.
    ic_prior_var, input_prior_var : float
        Variances of the zero-mean Gaussian priors on ``g0`` and ``u_t``.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        n_factors: int,
        encoder_size: int,
        generator_size: int,
        n_inputs: int,
        controller_size: int,
        dropout: float,
        ic_prior_var: float = 0.1,
        input_prior_var: float = 0.1,
    ):
        super().__init__()
        self.n_inputs = n_inputs
        self.generator_size = generator_size
        self.ic_prior_var = ic_prior_var
        self.input_prior_var = input_prior_var
        self.ic_encoder = nn.GRU(n_in, encoder_size, batch_first=True, bidirectional=True)
        self.ic_posterior = nn.Linear(2 * encoder_size, 2 * generator_size)
        self.drop = nn.Dropout(dropout)
        if n_inputs > 0:
            self.ci_encoder = nn.GRU(n_in, controller_size, batch_first=True, bidirectional=True)
            self.controller = nn.GRUCell(2 * controller_size + n_factors, controller_size)
            self.input_posterior = nn.Linear(controller_size, 2 * n_inputs)
            self.generator_cell = nn.GRUCell(n_inputs, generator_size)
        else:
            self.generator = nn.GRU(1, generator_size, batch_first=True)
        self.to_factors = nn.Linear(generator_size, n_factors, bias=False)
        self.readout = nn.Linear(n_factors, n_out)
        _bias_update_gates(self)
        # Start the posterior log-variances near the prior's, so the first
        # steps neither explode the KL nor collapse the samples.
        with torch.no_grad():
            self.ic_posterior.bias[generator_size:] = math.log(ic_prior_var)
            if n_inputs > 0:
                self.input_posterior.bias[n_inputs:] = math.log(input_prior_var)

    def forward(self, x: torch.Tensor, sample: bool, generator: torch.Generator | None = None) -> dict:
        """Run the model on encoder input ``x`` (batch, time, n_in).

        Parameters
        ----------
        x : Tensor
            Encoder input (already transformed and masked).
        sample : bool
            Draw from the posteriors (training) or use their means (inference).
        generator : torch.Generator, optional
            Source of the posterior noise.

        Returns
        -------
        dict
            ``activation`` (batch, time, n_out) read-out before the rate link
            (log-rates for the exp link), ``factors`` (batch, time,
            n_factors), ``kl_ic`` and ``kl_inputs`` (batch,), ``inputs``
            (batch, time, n_inputs) posterior means (or None).
        """
        batch, n_time, _ = x.shape
        _, h_n = self.ic_encoder(x)  # (2, batch, encoder_size): both directions saw the whole trial
        enc = self.drop(torch.cat([h_n[0], h_n[1]], dim=-1))
        ic_mean, ic_logvar = self.ic_posterior(enc).chunk(2, dim=-1)
        ic_logvar = ic_logvar.clamp(-10.0, 5.0)  # keeps exp() finite early in training
        g0 = ic_mean
        if sample:
            noise = torch.randn(ic_mean.shape, generator=generator, device=x.device, dtype=x.dtype)
            g0 = ic_mean + torch.exp(0.5 * ic_logvar) * noise
        kl_ic = gaussian_kl(ic_mean, ic_logvar, self.ic_prior_var)

        if self.n_inputs == 0:
            states, _ = self.generator(x.new_zeros(batch, n_time, 1), g0.unsqueeze(0).contiguous())
            factors = self.to_factors(self.drop(states))
            kl_u = x.new_zeros(batch)
            inputs = None
        else:
            factors, kl_u, inputs = self._unroll_with_inputs(x, g0, sample, generator)
        return {
            "activation": self.readout(factors),
            "factors": factors,
            "kl_ic": kl_ic,
            "kl_inputs": kl_u,
            "inputs": inputs,
        }

    def _unroll_with_inputs(
        self, x: torch.Tensor, g0: torch.Tensor, sample: bool, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Step the controller and the generator together (inputs depend on past factors).

        Only what must be sequential is inside the loop; the posterior noise is
        drawn up front and the KL, dropout and factors of the output are
        computed on the stacked states afterwards (far fewer small operations
        per step, which is what a CPU pays for here).
        """
        batch, n_time, _ = x.shape
        ci = self.drop(self.ci_encoder(x)[0])  # (batch, time, 2 * controller_size)
        noise = None
        if sample:
            shape = (batch, n_time, self.n_inputs)
            noise = torch.randn(shape, generator=generator, device=x.device, dtype=x.dtype)
        con = x.new_zeros(batch, self.controller.hidden_size)
        gen = g0
        means, logvars, states = [], [], []
        for t in range(n_time):
            # The controller sees the generator's previous factors (without
            # dropout: it is a feedback signal, not an output).
            con = self.controller(torch.cat([ci[:, t], self.to_factors(gen)], dim=-1), con)
            u_mean, u_logvar = self.input_posterior(con).clamp(max=5.0).chunk(2, dim=-1)
            u_logvar = u_logvar.clamp(min=-10.0)
            u = u_mean if noise is None else u_mean + torch.exp(0.5 * u_logvar) * noise[:, t]
            gen = self.generator_cell(u, gen)
            means.append(u_mean)
            logvars.append(u_logvar)
            states.append(gen)
        mean, logvar = torch.stack(means, dim=1), torch.stack(logvars, dim=1)
        factors = self.to_factors(self.drop(torch.stack(states, dim=1)))
        kl = gaussian_kl(mean, logvar, self.input_prior_var).sum(dim=1)
        return factors, kl, mean
