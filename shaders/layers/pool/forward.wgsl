// Max and average pooling over windows (overlapping allowed), ONNX semantics.
// The window of output (i, j) spans rows i·sy − pt … + kh, clipped to the input.

struct Params {
    planes: u32, h: u32, w: u32, oh: u32,
    ow: u32, kh: u32, kw: u32, sy: u32,
    sx: u32, pt: u32, pl: u32, pb: u32,
    pr: u32, count_include_pad: u32, pad0: u32, pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

struct Window { y0: u32, y1: u32, x0: u32, x1: u32, divisor: u32 }

fn window(i: u32, j: u32) -> Window {
    let sy = i32(i * p.sy) - i32(p.pt);
    let sx = i32(j * p.sx) - i32(p.pl);
    let ey = sy + i32(p.kh);
    let ex = sx + i32(p.kw);
    var win: Window;
    win.y0 = u32(clamp(sy, 0, i32(p.h)));
    win.y1 = u32(clamp(ey, 0, i32(p.h)));
    win.x0 = u32(clamp(sx, 0, i32(p.w)));
    win.x1 = u32(clamp(ex, 0, i32(p.w)));
    if (p.count_include_pad != 0u) {
        win.divisor = u32(min(ey, i32(p.h + p.pb)) - sy) * u32(min(ex, i32(p.w + p.pr)) - sx);
    } else {
        win.divisor = (win.y1 - win.y0) * (win.x1 - win.x0);
    }
    return win;
}

@compute @workgroup_size(256)
fn max_pool(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let o = flat_id(gid, nwg, 256u);
    if (o >= p.planes * p.oh * p.ow) { return; }
    let plane = o / (p.oh * p.ow);
    let win = window((o / p.ow) % p.oh, o % p.ow);
    var m = -3.4028235e38;
    for (var yy = win.y0; yy < win.y1; yy++) {
        for (var xx = win.x0; xx < win.x1; xx++) {
            m = max(m, x[(plane * p.h + yy) * p.w + xx]);
        }
    }
    y[o] = m;
}

@compute @workgroup_size(256)
fn avg_pool(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let o = flat_id(gid, nwg, 256u);
    if (o >= p.planes * p.oh * p.ow) { return; }
    let plane = o / (p.oh * p.ow);
    let win = window((o / p.ow) % p.oh, o % p.ow);
    var s = 0.0;
    for (var yy = win.y0; yy < win.y1; yy++) {
        for (var xx = win.x0; xx < win.x1; xx++) {
            s += x[(plane * p.h + yy) * p.w + xx];
        }
    }
    y[o] = s / f32(win.divisor);
}
