import pytest

from riskadjust.synthetic import home_model, synthetic_population


@pytest.fixture(scope="session")
def home():
    return home_model()


@pytest.fixture(scope="session")
def sample():
    """3,000 synthetic members and diagnoses for the home model (seeded)."""
    return synthetic_population(3000, seed=11)
