// HiveMind FPGA accelerator top: packet engine + CSR block + on-chip memory.
// Parameters are one bitstream variant (fpga/rtl/generated/variants.txt).
`default_nettype none

module hm_fpga #(
    parameter integer DW = 64,
    parameter integer AW = 10,
    parameter integer N_CONN = 16,
    parameter integer N_FUNC = 8,
    parameter integer N_QUEUE = 8,
    parameter integer N_REGION = 8,
    parameter integer QDEPTH_MAX = 8,
    parameter integer VARIANT_ID = 1
) (
    input  wire          clk,
    input  wire          rst,
    input  wire          in_valid,
    output wire          in_ready,
    input  wire [DW-1:0] in_data,
    input  wire          in_last,
    output wire          out_valid,
    input  wire          out_ready,
    output wire [DW-1:0] out_data,
    output wire          out_last,
    input  wire          csr_valid,
    input  wire          csr_write,
    input  wire [11:0]   csr_addr,
    input  wire [31:0]   csr_wdata,
    output wire [31:0]   csr_rdata,
    output wire [7:0]    csr_err,
    output wire          idle,
    output wire          pkt_done,
    output wire [7:0]    pkt_status
);
    wire enable;
    wire [4:0] slot_shift;
    wire [15:0] lk_conn, lk_func, lk_func_s;
    wire [7:0] lk_region;
    wire conn_ok, conn_rpc, conn_mem, func_ok, q_full, reg_ok, reg_r, reg_w, reg_a;
    wire [7:0] sel_queue, q_tail;
    wire [AW-1:0] q_taddr, reg_base;
    wire [AW:0] reg_size;
    wire ev_commit, ev_done, ev_suppressed, ev_swapped;
    wire [15:0] ev_func;
    wire [7:0] ev_queue, ev_op, ev_status;
    wire mem_we, mem_re;
    wire [AW-1:0] mem_waddr, mem_raddr;
    wire [DW-1:0] mem_wdata, mem_q;

    assign pkt_done = ev_done;
    assign pkt_status = ev_status;

    hm_engine #(.DW(DW), .AW(AW)) engine (
        .clk(clk), .rst(rst),
        .in_valid(in_valid), .in_ready(in_ready), .in_data(in_data), .in_last(in_last),
        .out_valid(out_valid), .out_ready(out_ready), .out_data(out_data), .out_last(out_last),
        .enable(enable), .slot_shift(slot_shift),
        .lk_conn(lk_conn), .conn_ok(conn_ok), .conn_rpc(conn_rpc), .conn_mem(conn_mem),
        .lk_func_s(lk_func_s), .func_ok(func_ok), .lk_func(lk_func), .sel_queue(sel_queue), .q_full(q_full),
        .q_tail(q_tail), .q_taddr(q_taddr),
        .lk_region(lk_region), .reg_ok(reg_ok), .reg_r(reg_r), .reg_w(reg_w), .reg_a(reg_a),
        .reg_base(reg_base), .reg_size(reg_size),
        .ev_commit(ev_commit), .ev_func(ev_func), .ev_queue(ev_queue), .ev_done(ev_done),
        .ev_op(ev_op), .ev_status(ev_status), .ev_suppressed(ev_suppressed),
        .ev_swapped(ev_swapped), .idle(idle),
        .mem_we(mem_we), .mem_waddr(mem_waddr), .mem_wdata(mem_wdata),
        .mem_re(mem_re), .mem_raddr(mem_raddr), .mem_q(mem_q)
    );

    hm_csr #(
        .DW(DW), .AW(AW), .N_CONN(N_CONN), .N_FUNC(N_FUNC), .N_QUEUE(N_QUEUE),
        .N_REGION(N_REGION), .QDEPTH_MAX(QDEPTH_MAX), .VARIANT_ID(VARIANT_ID)
    ) csr (
        .clk(clk), .rst(rst),
        .csr_valid(csr_valid), .csr_write(csr_write), .csr_addr(csr_addr),
        .csr_wdata(csr_wdata), .csr_rdata(csr_rdata), .csr_err(csr_err),
        .eng_idle(idle), .enable(enable), .slot_shift(slot_shift),
        .lk_conn(lk_conn), .conn_ok(conn_ok), .conn_rpc(conn_rpc), .conn_mem(conn_mem),
        .lk_func_s(lk_func_s), .func_ok(func_ok), .lk_func(lk_func), .sel_queue(sel_queue), .q_full(q_full),
        .q_tail(q_tail), .q_taddr(q_taddr),
        .lk_region(lk_region), .reg_ok(reg_ok), .reg_r(reg_r), .reg_w(reg_w), .reg_a(reg_a),
        .reg_base(reg_base), .reg_size(reg_size),
        .ev_commit(ev_commit), .ev_func(ev_func), .ev_queue(ev_queue), .ev_done(ev_done),
        .ev_op(ev_op), .ev_status(ev_status), .ev_suppressed(ev_suppressed),
        .ev_swapped(ev_swapped)
    );

    hm_ram #(.DW(DW), .AW(AW)) ram (
        .clk(clk), .we(mem_we), .waddr(mem_waddr), .wdata(mem_wdata),
        .re(mem_re), .raddr(mem_raddr), .q(mem_q)
    );
endmodule

`default_nettype wire
