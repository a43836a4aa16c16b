// Shared by every kernel: workgroup size as specialization constant 0, reductions across the
// workgroup (subgroup operations when compiled with USE_SUBGROUP, shared memory otherwise; the
// host picks the variant by the device's subgroup support), fast-and-stable tanh.
#extension GL_EXT_control_flow_attributes : enable
#ifdef USE_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : enable
#extension GL_KHR_shader_subgroup_arithmetic : enable
#endif

layout(constant_id = 0) const uint WG = 64; // a power of two; a multiple of the subgroup size
layout(local_size_x_id = 0) in;

shared float reduceScratch[WG];

float workgroupSum(float v) {
#ifdef USE_SUBGROUP
    v = subgroupAdd(v);
    if (subgroupElect()) reduceScratch[gl_SubgroupID] = v;
    barrier();
    float s = 0.0;
    for (uint i = 0u; i < gl_NumSubgroups; ++i) s += reduceScratch[i];
    barrier();
    return s;
#else
    const uint t = gl_LocalInvocationID.x;
    reduceScratch[t] = v;
    barrier();
    for (uint stride = WG / 2u; stride > 0u; stride >>= 1u) {
        if (t < stride) reduceScratch[t] += reduceScratch[t + stride];
        barrier();
    }
    float s = reduceScratch[0];
    barrier();
    return s;
#endif
}

float workgroupMax(float v) {
#ifdef USE_SUBGROUP
    v = subgroupMax(v);
    if (subgroupElect()) reduceScratch[gl_SubgroupID] = v;
    barrier();
    float m = reduceScratch[0];
    for (uint i = 1u; i < gl_NumSubgroups; ++i) m = max(m, reduceScratch[i]);
    barrier();
    return m;
#else
    const uint t = gl_LocalInvocationID.x;
    reduceScratch[t] = v;
    barrier();
    for (uint stride = WG / 2u; stride > 0u; stride >>= 1u) {
        if (t < stride) reduceScratch[t] = max(reduceScratch[t], reduceScratch[t + stride]);
        barrier();
    }
    float m = reduceScratch[0];
    barrier();
    return m;
#endif
}

// tanh that stays finite for any input (exp overflow gives +-1, never NaN).
float stableTanh(float x) {
    float e = exp(-2.0 * abs(x));
    float t = (1.0 - e) / (1.0 + e);
    return x < 0.0 ? -t : t;
}

float geluTanh(float x) {
    const float c = 0.7978845608028654; // sqrt(2 / pi)
    return 0.5 * x * (1.0 + stableTanh(c * (x + 0.044715 * x * x * x)));
}

// An angle reduced to about [-pi, pi] before cos/sin (whose accuracy is only specified near there).
// Cody-Waite: 2 pi = C1 + C2 + C3 with C1, C2 short enough that k * C1 and k * C2 are exact for
// k < 2^15 (angles up to ~2e5 rad).
float reduceAngle(float angle) {
    const float C1 = 6.28125;
    const float C2 = 0.001934051513671875;
    const float C3 = 1.2556658930407139e-06;
    const float k = round(angle * 0.15915494309189535);
    precise float reduced = ((angle - k * C1) - k * C2) - k * C3;
    return reduced;
}
