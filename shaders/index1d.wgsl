// 1-D launches are folded into a 2-D grid (at most 65,535 workgroups per dimension):
// the launcher computes the grid, the kernel rebuilds the flat invocation index here.
fn flat_index(wid: vec3u, nwg: vec3u, lid: u32, wg_size: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * wg_size + lid;
}
