"""Per-game reference scores for normalizing returns.

Atari: random and human scores per game as published with DQN (Mnih et al. 2015) and used by
Dopamine and rliable (the Atari-57 table of DQN Zoo's atari_data.py): the human-normalized
score is (R - random) / (human - random).

MinAtar has no published human scores. Random scores were measured here: the mean return of
a uniformly random policy over 1,000 episodes (seed 0, MinAtar's own sticky actions and
difficulty ramping). The upper reference is the best configuration of the sweep being
aggregated (its mean final return over seeds), so 0 is random play and 1 is the best
configuration in this sweep. Other environments use the same upper reference and a random
score of 0.
"""

from tfprune_rl.envs import game_name

# game: (random, human)
ATARI = {
    "Alien": (227.8, 7127.7), "Amidar": (5.8, 1719.5), "Assault": (222.4, 742.0),
    "Asterix": (210.0, 8503.3), "Asteroids": (719.1, 47388.7), "Atlantis": (12850.0, 29028.1),
    "BankHeist": (14.2, 753.1), "BattleZone": (2360.0, 37187.5), "BeamRider": (363.9, 16926.5),
    "Berzerk": (123.7, 2630.4), "Bowling": (23.1, 160.7), "Boxing": (0.1, 12.1),
    "Breakout": (1.7, 30.5), "Centipede": (2090.9, 12017.0), "ChopperCommand": (811.0, 7387.8),
    "CrazyClimber": (10780.5, 35829.4), "Defender": (2874.5, 18688.9),
    "DemonAttack": (152.1, 1971.0), "DoubleDunk": (-18.6, -16.4), "Enduro": (0.0, 860.5),
    "FishingDerby": (-91.7, -38.7), "Freeway": (0.0, 29.6), "Frostbite": (65.2, 4334.7),
    "Gopher": (257.6, 2412.5), "Gravitar": (173.0, 3351.4), "Hero": (1027.0, 30826.4),
    "IceHockey": (-11.2, 0.9), "Jamesbond": (29.0, 302.8), "Kangaroo": (52.0, 3035.0),
    "Krull": (1598.0, 2665.5), "KungFuMaster": (258.5, 22736.3),
    "MontezumaRevenge": (0.0, 4753.3), "MsPacman": (307.3, 6951.6),
    "NameThisGame": (2292.3, 8049.0), "Phoenix": (761.4, 7242.6), "Pitfall": (-229.4, 6463.7),
    "Pong": (-20.7, 14.6), "PrivateEye": (24.9, 69571.3), "Qbert": (163.9, 13455.0),
    "Riverraid": (1338.5, 17118.0), "RoadRunner": (11.5, 7845.0), "Robotank": (2.2, 11.9),
    "Seaquest": (68.4, 42054.7), "Skiing": (-17098.1, -4336.9), "Solaris": (1236.3, 12326.7),
    "SpaceInvaders": (148.0, 1668.7), "StarGunner": (664.0, 10250.0),
    "Surround": (-10.0, 6.5), "Tennis": (-23.8, -8.3), "TimePilot": (3568.0, 5229.2),
    "Tutankham": (11.4, 167.6), "UpNDown": (533.4, 11693.2), "Venture": (0.0, 1187.5),
    "VideoPinball": (16256.9, 17667.9), "WizardOfWor": (563.5, 4756.5),
    "YarsRevenge": (3092.9, 54576.9), "Zaxxon": (32.5, 9173.3),
}

# game: random-policy mean return (1,000 episodes; standard errors 0.01 to 0.10)
MINATAR_RANDOM = {
    "Asterix": 0.476, "Breakout": 0.381, "Freeway": 0.387, "Seaquest": 0.11,
    "SpaceInvaders": 3.97,
}


def references(env_id: str, best_mean_return: float) -> tuple[float, float, str]:
    """(score of 0, score of 1, what they are) for `env_id`; `best_mean_return` is the sweep's
    best configuration on it, the upper reference where no published one exists."""
    game = game_name(env_id)
    if env_id.startswith("ALE/"):
        if game not in ATARI:
            raise ValueError(f"no human and random scores for Atari game {game!r}; "
                             f"known: {', '.join(sorted(ATARI))}")
        random, human = ATARI[game]
        return random, human, "human-normalized (DQN's random and human scores)"
    if env_id.startswith("MinAtar/") and game in MINATAR_RANDOM:
        random, zero = MINATAR_RANDOM[game], "random play (measured)"
    else:
        random, zero = 0.0, "a return of 0"
    if best_mean_return <= random:
        raise ValueError(f"{env_id}: no configuration's mean final return beats {random} "
                         f"({zero}), so its scores cannot be normalized")
    return random, best_mean_return, f"{zero} = 0, best configuration in this sweep = 1"
