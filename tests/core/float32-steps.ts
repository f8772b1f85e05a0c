/** Float32 values as ordered integers, so |float32Order(x) - float32Order(y)| counts the float32 steps between x and y (0 and -0 coincide). */
const bits = new Uint32Array(1);
const asFloat = new Float32Array(bits.buffer);
export const float32Order = (v: number): number => {
  asFloat[0] = v;
  const b = bits[0]!;
  return b & 0x80000000 ? -(b & 0x7fffffff) : b;
};
