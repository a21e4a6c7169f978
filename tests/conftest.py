"""Every test leaves the process as it found it."""

import builtins
import os

import pytest
import torch


@pytest.fixture(autouse=True)
def _global_state_is_left_as_found():
    print_function = builtins.print
    working_directory = os.getcwd()
    torch_threads = torch.get_num_threads()
    yield
    assert builtins.print is print_function, "builtins.print was replaced"
    assert os.getcwd() == working_directory, "the working directory changed"
    assert torch.get_num_threads() == torch_threads, "torch's thread count changed"
