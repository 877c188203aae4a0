"""The law catalog as ``bayescale.models`` describes it, for listing it without JAX.

Generated from the laws by ``python -m bayescale._catalog``: do not edit by hand (a
test compares it with the laws).
"""

ROWS: dict[str, dict[str, str]] = {
    "chinchilla": {
        "formula": "L = E + A/N^alpha + B/D^beta",
        "inputs": "N, D",
        "parameters": "E, A, B, alpha, beta",
        "reference": "Hoffmann et al. (2022), Training Compute-Optimal Large Language "
        "Models, arXiv:2203.15556; Besiroglu et al. (2024), Chinchilla "
        "Scaling: A replication attempt, arXiv:2404.10102",
    },
    "bnsl_1": {
        "formula": "y = a + b D^-c0 (1 + (D/d1)^(1/f1))^(-c1 f1)",
        "inputs": "D",
        "parameters": "a, b, c0, c1, d1, f1",
        "reference": "Caballero et al. (2023), Broken Neural Scaling Laws, ICLR 2023, "
        "arXiv:2210.14891 (eq. 1)",
    },
    "hestness_C": {
        "formula": "L = E + A/C^alpha",
        "inputs": "C",
        "parameters": "E, A, alpha",
        "reference": "Hestness et al. (2017), Deep Learning Scaling is Predictable, "
        "Empirically, arXiv:1712.00409",
    },
    "hestness_D": {
        "formula": "L = E + A/D^alpha",
        "inputs": "D",
        "parameters": "E, A, alpha",
        "reference": "Hestness et al. (2017), Deep Learning Scaling is Predictable, "
        "Empirically, arXiv:1712.00409",
    },
    "hestness_N": {
        "formula": "L = E + A/N^alpha",
        "inputs": "N",
        "parameters": "E, A, alpha",
        "reference": "Hestness et al. (2017), Deep Learning Scaling is Predictable, "
        "Empirically, arXiv:1712.00409",
    },
    "kaplan_ND": {
        "formula": "L = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D",
        "inputs": "N, D",
        "parameters": "N_c, D_c, alpha_N, alpha_D",
        "reference": "Kaplan et al. (2020), Scaling Laws for Neural Language Models, "
        "arXiv:2001.08361 (eq. 1.5, Table 2)",
    },
    "kaplan_NS": {
        "formula": "L = (N_c/N)^alpha_N + (S_c/S)^alpha_S",
        "inputs": "N, S",
        "parameters": "N_c, S_c, alpha_N, alpha_S",
        "reference": "Kaplan et al. (2020), Scaling Laws for Neural Language Models, "
        "arXiv:2001.08361 (eq. 1.6, Table 3)",
    },
    "kaplan_bcrit": {
        "formula": "B = B_star / loss^(1/alpha_B)",
        "inputs": "loss",
        "parameters": "B_star, alpha_B",
        "reference": "Kaplan et al. (2020), Scaling Laws for Neural Language Models, "
        "arXiv:2001.08361 (eq. 1.4, Section 5.1)",
    },
    "power_law_C": {
        "formula": "L = (C_c/C)^alpha_C",
        "inputs": "C",
        "parameters": "C_c, alpha_C",
        "reference": "Kaplan et al. (2020), Scaling Laws for Neural Language Models, "
        "arXiv:2001.08361 (eqs. 1.1-1.3); Brown et al. (2020), Language "
        "Models are Few-Shot Learners, arXiv:2005.14165 (Fig. 3.1)",
    },
    "power_law_D": {
        "formula": "L = (D_c/D)^alpha_D",
        "inputs": "D",
        "parameters": "D_c, alpha_D",
        "reference": "Kaplan et al. (2020), Scaling Laws for Neural Language Models, "
        "arXiv:2001.08361 (eqs. 1.1-1.3); Brown et al. (2020), Language "
        "Models are Few-Shot Learners, arXiv:2005.14165 (Fig. 3.1)",
    },
    "power_law_N": {
        "formula": "L = (N_c/N)^alpha_N",
        "inputs": "N",
        "parameters": "N_c, alpha_N",
        "reference": "Kaplan et al. (2020), Scaling Laws for Neural Language Models, "
        "arXiv:2001.08361 (eqs. 1.1-1.3); Brown et al. (2020), Language "
        "Models are Few-Shot Learners, arXiv:2005.14165 (Fig. 3.1)",
    },
    "chinchilla_tied": {
        "formula": "L = E + A/N^alpha + B/D^alpha",
        "inputs": "N, D",
        "parameters": "E, A, B, alpha",
        "reference": "Muennighoff et al. (2023), arXiv:2305.16264 (tied alpha = "
        "beta); Hoffmann et al. (2022), arXiv:2203.15556",
    },
    "data_constrained": {
        "formula": "L = E + A/N'^alpha + B/D'^alpha, D' = U + U "
        "R_D*(1-exp(-R_D/R_D*)), N' = U_N + U_N "
        "R_N*(1-exp(-R_N/R_N*))",
        "inputs": "N, D, U",
        "parameters": "E, A, B, alpha, R_D_star, R_N_star",
        "reference": "Muennighoff et al. (2023), Scaling Data-Constrained "
        "Language Models, arXiv:2305.16264",
    },
    "emergence": {
        "formula": "acc = floor + (ceil - floor) * sigmoid(k (log C - log C_mid))",
        "inputs": "C",
        "parameters": "floor, ceil, k, C_mid",
        "reference": "Wei et al. (2022), arXiv:2206.07682; Ruan et al. (2024), arXiv:2405.10938",
    },
    "emergence_loss": {
        "formula": "acc = floor + (ceil - floor) * sigmoid(-k (loss - L_mid))",
        "inputs": "loss",
        "parameters": "floor, ceil, k, L_mid",
        "reference": "Du et al. (2024), Understanding Emergent Abilities from the "
        "Loss Perspective, arXiv:2403.15796; Schaeffer et al. (2023), "
        "arXiv:2304.15004",
    },
    "exact_match": {
        "formula": "acc = exp(-1 (E + A (C/1e21)^-alpha))",
        "inputs": "C",
        "parameters": "E, A, alpha",
        "reference": "Schaeffer, Miranda, Koyejo (2023), Are Emergent Abilities of "
        "Large Language Models a Mirage?, arXiv:2304.15004",
    },
    "logit_linear": {
        "formula": "logit(acc) = a + b log(C / 1e21)",
        "inputs": "C",
        "parameters": "a, b",
        "reference": "Ruan et al. (2024), arXiv:2405.10938 (sigmoidal link of "
        "log-compute); Schaeffer et al. (2023), arXiv:2304.15004 "
        "(smooth metrics)",
    },
    "latency_N": {
        "formula": "latency = t0 + a (N/1e9)^gamma",
        "inputs": "N",
        "parameters": "t0, a, gamma",
        "reference": "Pope et al. (2022), Efficiently Scaling Transformer Inference, "
        "arXiv:2211.05102",
    },
    "memory_N": {
        "formula": "memory = M0 + a (N/1e9)^gamma",
        "inputs": "N",
        "parameters": "M0, a, gamma",
        "reference": "Pope et al. (2022), arXiv:2211.05102; Kwon et al. (2023), arXiv:2309.06180",
    },
    "temperature_quality": {
        "formula": "quality = q_max * exp(-(temperature - tau_opt)^2 / (2 width^2))",
        "inputs": "temperature",
        "parameters": "q_max, tau_opt, width",
        "reference": "descriptive form; temperature effects studied by Renze "
        "& Guven (2024), arXiv:2402.05201",
    },
    "test_time_compute": {
        "formula": "acc = ceil * sigmoid(b (log C_test - log C_half))",
        "inputs": "C_test",
        "parameters": "ceil, C_half, b",
        "reference": "descriptive form; motivated by Snell et al. (2024), "
        "arXiv:2408.03314 and Brown et al. (2024), "
        "arXiv:2407.21787",
    },
    "throughput_batch": {
        "formula": "throughput = T_max * B / (B + B_half)",
        "inputs": "B",
        "parameters": "T_max, B_half",
        "reference": "Kwon et al. (2023), arXiv:2309.06180; Pope et al. (2022), arXiv:2211.05102",
    },
    "train_test_tradeoff": {
        "formula": "C_test = C_min + K (C_train/1e15)^-m",
        "inputs": "C_train",
        "parameters": "C_min, K, m",
        "reference": "Jones (2021), Scaling Scaling Laws with Board Games, arXiv:2104.03113",
    },
    "utilisation_batch": {
        "formula": "utilisation = u_max * B / (B + B_half)",
        "inputs": "B",
        "parameters": "u_max, B_half",
        "reference": "Pope et al. (2022), Efficiently Scaling Transformer "
        "Inference, arXiv:2211.05102",
    },
}
