//! Realistic Azure log generator with planted attack scenarios and ground truth
