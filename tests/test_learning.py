"""Each algorithm learns Pendulum-v1: a fixed seed, a realistic budget, minutes of CPU."""

import numpy as np
import pytest
from helpers import SCRIPTS, load_script, read_scalars


@pytest.mark.slow
@pytest.mark.learning
@pytest.mark.parametrize("script", SCRIPTS[::-1])  # SAC, the longest, first
def test_learns_pendulum(script):
    result = load_script(script).main(
        ["--env-id", "Pendulum-v1", "--total-timesteps", "15000", "--learning-starts", "1000", "--seed", "1"]
    )
    returns = [value for _, value in read_scalars(result["run_dir"])["charts/episodic_return"]]
    assert len(returns) == 75
    # A random policy scores about -1200; a good swing-up -150 to -200.
    assert np.mean(returns[-10:]) >= -200, returns[-10:]
